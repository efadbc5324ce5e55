"""Publish cost_anomalies (sql/cost_anomalies.sql) for a range of days, and describe them for the check.

The constants below are the detector's; sql/cost_anomalies.sql explains how each is used. Why these values:
- WINDOW_DAYS = 28: four whole weeks, so a weekly rhythm weighs the same in every baseline, and a month of
  history is what a bill holds; a shorter window follows a slow drift sooner but has fewer days for the median.
- MIN_HISTORY = 7: a median of fewer than a week of days is one bad day away from moving; a new workload is
  not judged in its first week.
- Z_THRESHOLD = 3.5: the usual cut for the robust (modified) z-score (Iglewicz and Hoaglin): on Gaussian noise
  about 1 day in 2,000 passes it.
- RELATIVE_FLOOR = 0.05: the scale is at least 5 % of the baseline, so a series that barely moved for four weeks
  (MAD ≈ 0) does not flag a 2 % change; a change must be ≥ 3.5 × 5 % = 17.5 % of the baseline to be flagged.
- MIN_IMPACT = 50: an anomaly must be worth at least 50 of the billing currency that day (cost moved, or the cost
  the change of cost per prediction or of η made), so cent-sized workloads never alert.
"""

from __future__ import annotations

from datetime import date

import duckdb

from pipelines.config import Settings
from pipelines.storage import lake
from pipelines.storage.sqlfiles import load_sql

WINDOW_DAYS = 28
MIN_HISTORY = 7
Z_THRESHOLD = 3.5
RELATIVE_FLOOR = 0.05
MIN_IMPACT = 50.0


def parameters(start: date, end: date) -> dict:
    return {
        "start_date": start,
        "end_date": end,
        "window_days": WINDOW_DAYS,
        "min_history": MIN_HISTORY,
        "z_threshold": Z_THRESHOLD,
        "relative_floor": RELATIVE_FLOOR,
        "min_impact": MIN_IMPACT,
    }


def register_sources(con: duckdb.DuckDBPyConnection, settings: Settings) -> None:
    """The tables the detector reads; the GPU and prediction tables may be empty (no logs configured)."""
    lake.register_views(con, settings, ["cost_attribution", "cost_by_category_daily"])
    lake.register_view_or_empty(con, settings, "cost_per_prediction_daily")
    lake.register_view_or_empty(con, settings, "gpu_efficiency_daily")


def compute_anomalies(
    con: duckdb.DuckDBPyConnection, settings: Settings, start: date, end: date
) -> dict[str, int]:
    """Publish cost_anomalies for start..end.

    A day with no anomaly gets an empty partition: "judged, nothing found" differs from "not run yet", and the
    catalog's cost_anomalies view exists as soon as the detector ran once.
    """
    register_sources(con, settings)
    query, params = load_sql("cost_anomalies"), parameters(start, end)
    with lake.PartitionWriter(con, settings, "cost_anomalies") as writer:
        writer.stage_many(query, params)
        for day in lake.days_between(start, end):
            if day not in writer.staged:
                writer.stage(day, f"SELECT * FROM ({query}) WHERE false", params)
        return writer.publish()


def read_anomalies(con: duckdb.DuckDBPyConnection, settings: Settings, start: date, end: date) -> list[dict]:
    """Published anomalies of start..end, largest $ impact first within each day."""
    if not lake.has_data(settings, "cost_anomalies"):
        return []
    lake.register_views(con, settings, ["cost_anomalies"])
    cur = con.execute(
        "SELECT * FROM cost_anomalies WHERE usage_date BETWEEN ? AND ? "
        "ORDER BY usage_date, abs(dollar_impact) DESC, metric, scope",
        [start, end],
    )
    columns = [d[0] for d in cur.description]
    return [dict(zip(columns, row, strict=True)) for row in cur.fetchall()]


def describe_anomaly(row: dict) -> str:
    """One line: what moved, the value against its baseline, the $ impact, robust z and the contributors."""
    if row["metric"] == "eta":
        figures = f"η {row['value']:.3f} vs baseline {row['baseline']:.3f}"
    elif row["metric"] == "cost_per_prediction":
        figures = (
            f"cost per 1k predictions {1000 * row['value']:.4f} vs baseline {1000 * row['baseline']:.4f}"
        )
    else:
        figures = f"cost {row['value']:,.2f} vs baseline {row['baseline']:,.2f}"
    pct = "" if row["deviation_pct"] is None else f" ({row['deviation_pct']:+.0%})"
    z = "n/a" if row["robust_z"] is None else f"{row['robust_z']:+.1f}"
    currency = row["billing_currency"] or ""
    return (
        f"{row['usage_date']} {row['metric']} {row['scope']}: {figures}{pct}, "
        f"impact {row['dollar_impact']:+,.2f} {currency}".rstrip()
        + f", robust z {z}; {row['top_contributors'] or 'no contributor found'}"
    )


def describe_anomalies(rows: list[dict], limit: int = 5) -> str:
    """The check's description: how many anomalies and the largest few, in plain text."""
    if not rows:
        return (
            f"no day departs from its trailing {WINDOW_DAYS}-day median by robust z ≥ {Z_THRESHOLD} "
            f"and ≥ {MIN_IMPACT:.0f} in the billing currency"
        )
    largest = sorted(rows, key=lambda r: -abs(r["dollar_impact"]))[:limit]
    more = f"; and {len(rows) - limit} more" if len(rows) > limit else ""
    return (
        f"{len(rows)} anomal{'y' if len(rows) == 1 else 'ies'}: "
        + "; ".join(map(describe_anomaly, largest))
        + more
    )
