"""Publish predictions_daily and cost_per_prediction_daily for a range of days."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import duckdb

from pipelines import lake
from pipelines.config import Settings
from pipelines.gpu.efficiency import GPU_EFFICIENCY_COLUMNS
from pipelines.predictions.counts import PredictionReadResult, read_predictions
from pipelines.s3_sources import read_staged
from pipelines.sqlfiles import load_sql

PREDICTIONS_COLUMNS = (
    "usage_date DATE, workload VARCHAR, endpoint VARCHAR, predictions DOUBLE, invocations BIGINT, "
    "failed_requests BIGINT, source VARCHAR"
)


def read_source(settings: Settings) -> PredictionReadResult | None:
    """Read the configured predictions source; None when none is configured."""
    if not settings.predictions_source:
        return None
    return read_staged(
        settings,
        settings.predictions_source,
        "predictions",
        lambda source: read_predictions(
            source,
            predictions_per_invocation=settings.batching(),
            mapping_file=Path(settings.endpoint_map) if settings.endpoint_map else None,
        ),
    )


def publish_predictions(
    con: duckdb.DuckDBPyConnection,
    settings: Settings,
    result: PredictionReadResult | None,
    start: date,
    end: date,
) -> dict[str, int]:
    """Publish predictions_daily for start..end (workloads resolved through the bill's endpoint tags)."""
    lake.register_views(con, settings, ["cost_attribution"])
    if result is None:
        con.execute(f"CREATE OR REPLACE TEMP TABLE prediction_counts_empty ({PREDICTIONS_COLUMNS})")
        frame = con.execute(
            "SELECT usage_date, endpoint, workload, invocations, failed_requests, predictions, source, "
            "0 AS source_files FROM prediction_counts_empty"
        ).pl()
    else:
        frame = result.daily
    con.register("prediction_counts", frame)
    try:
        return lake.publish_days(
            con,
            settings,
            "predictions_daily",
            load_sql("predictions_daily"),
            {"start_date": start, "end_date": end},
            start,
            end,
        )
    finally:
        con.unregister("prediction_counts")


def compute_cost_per_prediction(
    con: duckdb.DuckDBPyConnection, settings: Settings, start: date, end: date
) -> dict[str, int]:
    """Publish cost_per_prediction_daily for start..end."""
    lake.register_views(con, settings, ["cost_attribution"])
    lake.register_view_or_empty(con, settings, "predictions_daily", PREDICTIONS_COLUMNS)
    lake.register_view_or_empty(con, settings, "gpu_efficiency_daily", GPU_EFFICIENCY_COLUMNS)
    return lake.publish_days(
        con,
        settings,
        "cost_per_prediction_daily",
        load_sql("cost_per_prediction_daily"),
        {"start_date": start, "end_date": end},
        start,
        end,
    )
