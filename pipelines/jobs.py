"""Jobs: one per partition scheme, because a Dagster run covers assets of one partitioning.

A nightly or `mlcost run` is three runs in order: billing (months) → daily tables (days) → reconciliation (months).
Steps run in one process: the lake's pool runs them one at a time anyway, and a process per step would pay
Dagster's import time (3–4 s) for each of them.
"""

from dagster import AssetSelection, define_asset_job, in_process_executor

ingest_billing = define_asset_job(
    "ingest_billing", selection=AssetSelection.assets("line_items"), executor_def=in_process_executor
)
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
    executor_def=in_process_executor,
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
    executor_def=in_process_executor,
)
JOBS = [ingest_billing, daily_tables, monthly_reconciliation]
