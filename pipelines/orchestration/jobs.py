"""Jobs: one per partition scheme, because a Dagster run covers assets of one partitioning.

A nightly or `mlcost run` is three runs in order: billing (months) → daily tables (days) → reconciliation (months).
Steps run in one process: the lake's pool runs them one at a time anyway, and a process per step would pay
Dagster's import time (3–4 s) for each of them. Which table runs in which job follows from its partitioning in the
registry (pipelines/storage/tables.py): a new table joins its job without an edit here.
"""

from dagster import AssetSelection, define_asset_job, in_process_executor

from pipelines.storage import tables

ingest_billing = define_asset_job(
    "ingest_billing", selection=AssetSelection.assets("line_items"), executor_def=in_process_executor
)
daily_tables = define_asset_job(
    "daily_tables", selection=AssetSelection.assets(*tables.daily_tables()), executor_def=in_process_executor
)
monthly_reconciliation = define_asset_job(
    "monthly_reconciliation",
    # Every monthly table but line_items; cost_report (unpartitioned) runs after the reconciliation, so every
    # run chain ends with a fresh report.
    selection=AssetSelection.assets(
        *(t for t in tables.monthly_tables() if t != "line_items"), "cost_report"
    ),
    executor_def=in_process_executor,
)
JOBS = [ingest_billing, daily_tables, monthly_reconciliation]
