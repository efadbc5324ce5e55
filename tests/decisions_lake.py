"""Write small synthetic daily tables into a lake, in the shapes the pipeline publishes, for the decision tests.

Each table is a list of row dicts; rows are grouped by usage_date into lake/<table>/usage_date=<day>/data.parquet,
as lake.publish_days writes them.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import date, timedelta

import polars as pl

from pipelines.config import Settings
from pipelines.storage import lake

SCHEMAS = {
    "cost_by_category_daily": {
        "usage_date": pl.Date,
        "category": pl.Utf8,
        "workload": pl.Utf8,
        "billing_currency": pl.Utf8,
        "billed_cost": pl.Float64,
        "effective_cost": pl.Float64,
    },
    "cost_attribution": {
        "usage_date": pl.Date,
        "category": pl.Utf8,
        "workload": pl.Utf8,
        "rule_id": pl.Utf8,
        "allocation": pl.Utf8,
        "service_code": pl.Utf8,
        "effective_cost": pl.Float64,
        "billing_currency": pl.Utf8,
        "billing_period": pl.Date,
        "usage_quantity": pl.Float64,
        "pricing_unit": pl.Utf8,
        "usage_type": pl.Utf8,
        "resource_id": pl.Utf8,
        "region": pl.Utf8,
        "instance_type": pl.Utf8,
        "product_gpu_count": pl.Int64,
        "line_item_type": pl.Utf8,
        "charge_category": pl.Utf8,
        "charge_period_start": pl.Datetime("us"),
        "charge_period_end": pl.Datetime("us"),
    },
    "cost_per_prediction_daily": {
        "usage_date": pl.Date,
        "workload": pl.Utf8,
        "predictions": pl.Float64,
        "inference_cost": pl.Float64,
        "cost_per_prediction": pl.Float64,
        "billing_currency": pl.Utf8,
    },
    "gpu_efficiency_daily": {
        "usage_date": pl.Date,
        "resource_id": pl.Utf8,
        "workload": pl.Utf8,
        "category": pl.Utf8,
        "instance_type": pl.Utf8,
        "gpu_count": pl.Int64,
        "allocated_gpu_hours": pl.Float64,
        "observed_gpu_hours": pl.Float64,
        "active_gpu_hours": pl.Float64,
        "eta": pl.Float64,
        "coverage": pl.Float64,
        "gpu_cost": pl.Float64,
        "idle_cost": pl.Float64,
    },
    "predictions_daily": {
        "usage_date": pl.Date,
        "workload": pl.Utf8,
        "endpoint": pl.Utf8,
        "predictions": pl.Float64,
        "invocations": pl.Float64,
        "failed_requests": pl.Float64,
    },
    "gpu_efficiency_by_device_daily": {
        "usage_date": pl.Date,
        "resource_id": pl.Utf8,
        "device": pl.Utf8,
        "gpu_index": pl.Int64,
        "mig_instance": pl.Utf8,
        "observed_gpu_hours": pl.Float64,
        "active_gpu_hours": pl.Float64,
        "eta": pl.Float64,
    },
}


def days(start: date, count: int) -> list[date]:
    return [start + timedelta(days=i) for i in range(count)]


def write_table(settings: Settings, table: str, rows: list[dict]) -> None:
    by_day: dict[date, list[dict]] = defaultdict(list)
    for row in rows:
        by_day[row["usage_date"]].append(row)
    schema = SCHEMAS[table]
    for day, day_rows in by_day.items():
        path = lake.partition_path(settings, table, day.isoformat())
        path.parent.mkdir(parents=True, exist_ok=True)
        frame = pl.DataFrame([{c: r.get(c) for c in schema} for r in day_rows], schema=schema)
        frame.write_parquet(path)


def cost_rows(series: dict[tuple[str, str], list[tuple[date, float]]], currency: str = "USD") -> list[dict]:
    """cost_by_category_daily rows from {(workload, category): [(day, effective_cost), ...]}."""
    return [
        {
            "usage_date": day,
            "category": category,
            "workload": workload,
            "billing_currency": currency,
            "billed_cost": cost,
            "effective_cost": cost,
        }
        for (workload, category), points in series.items()
        for day, cost in points
    ]
