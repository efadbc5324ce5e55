"""Publish recommendations (sql/recommendations.sql): actions and the monthly saving of each.

The constants are the recommender's; docs/recommendations.md has each kind's formula. Why these values:
- WINDOW_DAYS = 7: a whole week, so a resource idle only on weekends is judged on its week, not its weekend.
- ETA_THRESHOLD = 0.3: below 30 % active, at least two thirds of the GPU cost buys idle time; a smaller instance or
  sharing pays off.
- MIN_SAVING = 50: a recommendation worth less than 50 a month (in the billing currency) is not worth a ticket.
- DEVICE_ACTIVE_MIN = 0.05: a GPU with η under 5 % over a day did no work worth keeping a GPU for (multi_gpu).
- LATENCY_BUDGET_MS = 200 (MLCOST_LATENCY_BUDGET_MS overrides it): the batching recommendation's latency budget.
- BATCH_MARGINAL_SHARE = 0.1: each further request in a batch adds 10 % of a single request's GPU time (a batch
  shares weights, kernel launches and memory traffic). An assumption, not a measurement: measure yours with a
  load test and use `mlcost whatif batch --marginal-share`; hence batching's confidence is low.
- COMMIT_WINDOW_DAYS = 30 and COMMIT_DISCOUNT = 0.25: the floor of on-demand GPU spend over 30 days, at an assumed
  25 % discount of a 1-year no-upfront Compute Savings Plan for GPU instances. Read your types' rate on
  https://aws.amazon.com/savingsplans/compute-pricing/ (AWS quotes "up to 66 %" for Compute Savings Plans, less for
  1-year no-upfront; the saving scales with d).
- STORAGE_TARGET_PRICE = 0.004: S3 Glacier Instant Retrieval, $ per GB-month, us-east-1
  (https://aws.amazon.com/s3/pricing/); S3 Standard is 0.023 (first 50 TB). STORAGE_READ_SHARE = 0.01: read
  charges under 1 % of the storage cost mean the bytes are hardly read.
- CLOUDFRONT_PRICE = 0.085: CloudFront to the internet, $ per GB, first 10 TB, North America
  (https://aws.amazon.com/cloudfront/pricing/), against 0.09 for EC2/S3 internet egress
  (https://aws.amazon.com/ec2/pricing/on-demand/, Data Transfer).
"""

from __future__ import annotations

from datetime import date

import duckdb

from pipelines.config import REPO_ROOT, Settings
from pipelines.gpu.efficiency import register_gpu_types
from pipelines.storage import lake
from pipelines.storage.sqlfiles import load_sql, quote_literal

WINDOW_DAYS = 7
ETA_THRESHOLD = 0.3
MIN_SAVING = 50.0
DEVICE_ACTIVE_MIN = 0.05
LATENCY_BUDGET_MS = 200.0
BATCH_MARGINAL_SHARE = 0.1
COMMIT_WINDOW_DAYS = 30
COMMIT_DISCOUNT = 0.25
STORAGE_TARGET_PRICE = 0.004
STORAGE_READ_SHARE = 0.01
CLOUDFRONT_PRICE = 0.085

GPU_PRICES = REPO_ROOT / "pipelines" / "reference" / "gpu_instance_prices.csv"
# The tables the recommender reads; each may be empty (no GPU logs, no predictions, no commitments).
SOURCES = (
    "gpu_efficiency_daily",
    "gpu_efficiency_by_device_daily",
    "predictions_daily",
    "cost_attribution",
    "commitment_utilization",
)


def parameters(period: date, latency_budget_ms: float | None = None) -> dict:
    return {
        "billing_period": period,
        "window_days": WINDOW_DAYS,
        "eta_threshold": ETA_THRESHOLD,
        "min_saving": MIN_SAVING,
        "device_active_min": DEVICE_ACTIVE_MIN,
        "latency_budget_ms": LATENCY_BUDGET_MS if latency_budget_ms is None else latency_budget_ms,
        "batch_marginal_share": BATCH_MARGINAL_SHARE,
        "commit_window_days": COMMIT_WINDOW_DAYS,
        "commit_discount": COMMIT_DISCOUNT,
        "storage_target_price": STORAGE_TARGET_PRICE,
        "storage_read_share": STORAGE_READ_SHARE,
        "cloudfront_price": CLOUDFRONT_PRICE,
    }


def register_gpu_prices(con: duckdb.DuckDBPyConnection) -> None:
    """List prices of GPU instance types (multi_gpu's smaller type), each row with its source."""
    con.execute(
        "CREATE OR REPLACE TEMP TABLE gpu_instance_prices AS SELECT lower(instance_type) AS instance_type, "
        f"gpu_count, on_demand_hourly, source FROM read_csv({quote_literal(str(GPU_PRICES))}, header = true, "
        "columns = {'instance_type': 'VARCHAR', 'gpu_count': 'INTEGER', 'on_demand_hourly': 'DOUBLE', "
        "'source': 'VARCHAR'})"
    )


def register_sources(con: duckdb.DuckDBPyConnection, settings: Settings) -> None:
    for table in SOURCES:
        lake.register_view_or_empty(con, settings, table)
    register_gpu_types(con)
    register_gpu_prices(con)
    con.execute(load_sql("staging/batching_curve"))


def compute_recommendations(
    con: duckdb.DuckDBPyConnection, settings: Settings, periods: list[date]
) -> dict[str, int]:
    """Publish recommendations for each billing period (empty when nothing is worth MIN_SAVING a month)."""
    register_sources(con, settings)
    with lake.PartitionWriter(con, settings, "recommendations") as writer:
        for period in periods:
            writer.stage(
                period.isoformat(),
                load_sql("recommendations"),
                parameters(period, settings.latency_budget_ms),
            )
        return writer.publish()
