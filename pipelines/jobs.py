"""Jobs: one per partition scheme, because a Dagster run covers assets of one partitioning.

A nightly or `mlcost run` is three runs in order: billing (months) → daily tables (days) → reconciliation (months).
"""

from dagster import AssetSelection, define_asset_job

from pipelines.partitions import billing_periods, days

ingest_billing = define_asset_job(
    "ingest_billing", selection=AssetSelection.assets("line_items"), partitions_def=billing_periods
)
daily_tables = define_asset_job(
    "daily_tables",
    selection=AssetSelection.assets(
        "cost_attribution",
        "cost_by_category_daily",
        "gpu_samples",
        "gpu_efficiency_daily",
        "predictions_daily",
        "cost_per_prediction_daily",
    ),
    partitions_def=days,
)
monthly_reconciliation = define_asset_job(
    "monthly_reconciliation", selection=AssetSelection.assets("reconciliation"), partitions_def=billing_periods
)
JOBS = [ingest_billing, daily_tables, monthly_reconciliation]
