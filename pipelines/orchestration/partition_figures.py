"""Each day partition's own figures on its materialization, and the run's figures labelled with the run's days.

A run over a range of days (`mlcost run`, a single-run backfill) computes every day of a daily asset in one step.
Dagster then records one materialization per day partition, and copies the metadata of the step's
MaterializeResult onto every one of them: partition 2026-10-31 would show the whole run's row count and dollars.
`context.add_asset_metadata(metadata, partition_key=day)` (Dagster ≥ 1.10, dagster-io/dagster#26562) adds
metadata to that one partition's materialization only, over the result's (execute_step._get_output_asset_events
merges result metadata, then the asset's, then the partition's). So:

- the figures of one day (`rows (this partition)`, `dagster/row_count`, `$ … (this partition)`) are given per
  partition, from one grouped query over the run's days;
- the run's figures are named after the days they cover (`rows (run: 2026-09-01…2026-10-31)`), because the asset
  page's headline shows the latest materialization's metadata, which is the last partition's event of the run.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from datetime import date
from typing import Any

import duckdb

THIS = "this partition"


def this(label: str) -> str:
    """`rows` -> `rows (this partition)`: a figure of one day partition only."""
    return f"{label} ({THIS})"


def run_span(start: date, end: date) -> str:
    """The days a run covered, as its figures' labels name them: `run: 2026-09-01…2026-10-31` (one day: its date)."""
    return f"run: {start}" if start == end else f"run: {start}…{end}"


def of_run(label: str, start: date, end: date) -> str:
    """`rows` -> `rows (run: 2026-09-01…2026-10-31)`: a figure over every day of the run."""
    return f"{label} ({run_span(start, end)})"


def money(value: Any) -> float:
    """Dollars as the UI shows them: to the cent (a day with no row is 0.00)."""
    return round(float(value or 0), 2)


def ratio(value: Any) -> float | None:
    """A ratio to 1e-6; NULL stays NULL (a ratio with no denominator is no figure, not 0 or 1)."""
    return None if value is None else round(float(value), 6)


def grouped_by_day(
    con: duckdb.DuckDBPyConnection, query: str, params: list | dict
) -> dict[str, list[dict[str, Any]]]:
    """The rows of one grouped query whose first column is `usage_date`, by ISO day."""
    cur = con.execute(query, params)
    names = [d[0] for d in cur.description]
    found: dict[str, list[dict[str, Any]]] = {}
    for row in cur.fetchall():
        record = dict(zip(names, row, strict=True))
        found.setdefault(record.pop("usage_date").isoformat(), []).append(record)
    return found


def add_per_partition(
    context,
    rows_by_day: Mapping[str, int],
    figures: Callable[[list[dict[str, Any]]], Mapping[str, Any]] | None = None,
    grouped: Mapping[str, list[dict[str, Any]]] | None = None,
) -> None:
    """Give every day partition of the run its own row count and figures (a day without rows: 0 rows, 0.00).

    `figures(rows)` turns the day's rows of `grouped` into labelled metadata (labels made with `this`).
    """
    for day in _keys(context):
        rows = int(rows_by_day.get(day, 0) or 0)
        metadata: dict[str, Any] = {"dagster/row_count": rows, this("rows"): rows}
        if figures is not None:
            metadata.update(figures((grouped or {}).get(day, [])))
        context.add_asset_metadata(metadata, partition_key=day)


def _keys(context) -> Iterable[str]:
    return context.partition_keys
