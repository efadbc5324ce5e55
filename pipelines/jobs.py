"""Jobs: one per partition scheme, because a Dagster run covers assets of one partitioning.

A nightly or `mlcost run` is three runs in order: billing (months) → daily tables (days) → reconciliation (months).
The jobs name no executor: `executor_for(settings)` gives the Definitions one (MLCOST_EXECUTOR). `in_process`
(default): every step in the run's process, since a process per step pays Dagster's import time (3–4 s) each.
`multiprocess`: Dagster's multiprocess executor, up to MLCOST_MAX_WORKERS steps at once (runs the UI, the
sensors and the schedules launch); `mlcost run` also splits the days and months into that many parallel runs
(pipelines/runner.py).
"""

from dagster import (
    AssetSelection,
    ExecutorDefinition,
    define_asset_job,
    in_process_executor,
    multiprocess_executor,
)

from pipelines.config import Settings


def executor_for(settings: Settings) -> ExecutorDefinition:
    """The executor every job runs on, from MLCOST_EXECUTOR and MLCOST_MAX_WORKERS."""
    if settings.executor == "multiprocess":
        return multiprocess_executor.configured({"max_concurrent": settings.max_workers})
    return in_process_executor


ingest_billing = define_asset_job("ingest_billing", selection=AssetSelection.assets("line_items"))
daily_tables = define_asset_job(
    "daily_tables",
    selection=AssetSelection.assets(
        "cost_attribution",
        "cost_by_category_daily",
        "gpu_samples",
        "gpu_efficiency_daily",
        "gpu_efficiency_by_device_daily",
        "predictions_daily",
        "cost_per_prediction_daily",
        "gpu_cost_by_pod_daily",
        "cost_anomalies",
    ),
)
monthly_reconciliation = define_asset_job(
    "monthly_reconciliation",
    # cost_report (unpartitioned) runs after the reconciliation: every run chain ends with a fresh report.
    selection=AssetSelection.assets(
        "reconciliation",
        "rule_coverage",
        "cost_report",
        "commitment_utilization",
        "tag_coverage",
        "month_end_forecast",
        "budget_status",
        "recommendations",
    ),
)
JOBS = [ingest_billing, daily_tables, monthly_reconciliation]
