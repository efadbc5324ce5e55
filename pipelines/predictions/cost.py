"""Publish predictions_daily and cost_per_prediction_daily for a range of days."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import duckdb

from pipelines.config import Settings
from pipelines.predictions.counts import FILE_SCHEMA, PredictionReadResult, read_predictions
from pipelines.s3_sources import read_staged
from pipelines.storage import lake
from pipelines.storage.sqlfiles import load_sql
from pipelines.storage.tables import TABLES

# A file with more than this share of its lines skipped is reported by the prediction_files_unusable check:
# past half, the counts describe the parser's luck more than the traffic.
MAX_SKIPPED_SHARE = 0.5


def read_source(settings: Settings) -> PredictionReadResult | None:
    """Read the configured predictions source; None when none is configured."""
    if not settings.predictions_source:
        return None
    zone = settings.predictions_timezone
    return read_staged(
        settings,
        settings.predictions_source,
        "predictions",
        lambda source: read_predictions(
            source,
            predictions_per_invocation=settings.batching(),
            mapping_file=Path(settings.endpoint_map) if settings.endpoint_map else None,
            naive_timezone=zone,
        ),
    )


def unusable_files(
    con: duckdb.DuckDBPyConnection, source: str | None, result: PredictionReadResult | None
) -> list[dict]:
    """Rows of the prediction_files_unusable check: files with no successful prediction or mostly skipped.

    A configured source under which no file could be read at all is one such row too.
    """
    if result is None:
        return []
    if not result.files_read:
        return [
            {
                "file": str(source),
                "family": None,
                "lines_read": 0,
                "lines_skipped": 0,
                "lines_unfinished": 0,
                "successful": 0.0,
                "first_problem": f"no prediction file read ({len(result.ignored_files)} ignored)",
            }
        ]
    con.register("prediction_files", result.files.select(list(FILE_SCHEMA)))
    try:
        cur = con.execute(
            load_sql("checks/predictions_daily__prediction_files_unusable"),
            {"max_skipped_share": MAX_SKIPPED_SHARE},
        )
        columns = [d[0] for d in cur.description]
        return [dict(zip(columns, row, strict=True)) for row in cur.fetchall()]
    finally:
        con.unregister("prediction_files")


def describe_unusable(rows: list[dict], limit: int = 3) -> str:
    """One line with the figures of the first few unusable files, for the check and the terminal."""
    parts = []
    for row in rows[:limit]:
        text = (
            f"{row['file']}: {row['lines_read']:,} lines read, {row['lines_skipped']:,} skipped, "
            f"{row['lines_unfinished']:,} unfinished, {row['successful']:,.0f} successful predictions"
        )
        if row["first_problem"]:
            text += f" (first problem: {row['first_problem']})"
        parts.append(text)
    more = f"; and {len(rows) - limit} more" if len(rows) > limit else ""
    return (
        f"{len(rows)} prediction file(s) gave no successful prediction or had more than "
        f"{MAX_SKIPPED_SHARE:.0%} of their lines skipped: " + "; ".join(parts) + more
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
        con.execute(
            f"CREATE OR REPLACE TEMP TABLE prediction_counts_empty ({TABLES['predictions_daily'].empty_columns()})"
        )
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
    lake.register_view_or_empty(con, settings, "predictions_daily")
    lake.register_view_or_empty(con, settings, "gpu_efficiency_daily")
    return lake.publish_days(
        con,
        settings,
        "cost_per_prediction_daily",
        load_sql("cost_per_prediction_daily"),
        {"start_date": start, "end_date": end},
        start,
        end,
    )
