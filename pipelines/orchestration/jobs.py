"""Jobs: one per partition scheme, because a Dagster run covers assets of one partitioning.

A nightly or `mlcost run` is three runs in order: billing (months) → daily tables (days) → reconciliation (months).
Which table runs in which job is `tables.job_of` in the registry (pipelines/storage/tables.py), which docs/tables.md's
data flow shows too: a new table joins its job without an edit here.

The jobs name no executor: `executor_for(settings)` gives the Definitions one (MLCOST_EXECUTOR). `in_process`
(default): every step in the run's process, since a process per step pays Dagster's import time (3–4 s) each.
`multiprocess`: Dagster's multiprocess executor, up to MLCOST_MAX_WORKERS steps at once (runs the UI, the
sensors and the schedules launch); `mlcost run` also splits the days and months into that many parallel runs
(pipelines/orchestration/runner.py).
"""

from dagster import (
    AssetSelection,
    ExecutorDefinition,
    define_asset_job,
    in_process_executor,
    multiprocess_executor,
)

from pipelines.config import Settings
from pipelines.storage import tables


def executor_for(settings: Settings) -> ExecutorDefinition:
    """The executor every job runs on, from MLCOST_EXECUTOR and MLCOST_MAX_WORKERS."""
    if settings.executor == "multiprocess":
        return multiprocess_executor.configured({"max_concurrent": settings.max_workers})
    return in_process_executor


ingest_billing = define_asset_job(
    "ingest_billing", selection=AssetSelection.assets(*tables.tables_of_job("ingest_billing"))
)
daily_tables = define_asset_job(
    "daily_tables", selection=AssetSelection.assets(*tables.tables_of_job("daily_tables"))
)
monthly_reconciliation = define_asset_job(
    "monthly_reconciliation",
    # cost_report (unpartitioned, not a lake table) runs after the reconciliation: every run chain ends with a
    # fresh report.
    selection=AssetSelection.assets(*tables.tables_of_job("monthly_reconciliation"), "cost_report"),
)
JOBS = [ingest_billing, daily_tables, monthly_reconciliation]
