"""Dagster assets of the decision layer: cost_anomalies (daily), month_end_forecast, budget_status and
recommendations (monthly). Each is the registry's shared asset path (orchestration/lake_assets.py) around the
domain's compute function, its headline figures and the words of its checks."""

from datetime import date

import duckdb
from dagster import MetadataValue

from pipelines.config import Settings
from pipelines.decisions.anomalies import compute_anomalies, describe_anomalies
from pipelines.decisions.budgets import compute_budget_status, describe_crossed
from pipelines.decisions.forecast import compute_forecast
from pipelines.decisions.recommendations import compute_recommendations
from pipelines.orchestration.lake_assets import CheckWords, lake_asset
from pipelines.orchestration.partitions import month_keys


def periods(start: date, end: date) -> list[date]:
    """The billing periods (first days) of a monthly run from start's to end's."""
    return [date.fromisoformat(key) for key in month_keys(start, end)]


def _monthly(compute):
    """A decision compute function taking the run's billing periods, as the factory's (start, end) compute."""

    def run(con: duckdb.DuckDBPyConnection, settings: Settings, start: date, end: date) -> dict[str, int]:
        return compute(con, settings, periods(start, end))

    return run


def forecast_figures(con: duckdb.DuckDBPyConnection, settings: Settings, start: date, end: date) -> dict:
    totals = con.execute(
        "SELECT billing_period, billing_currency, max(as_of), fsum(mtd_cost), fsum(forecast_cost) "
        "FROM month_end_forecast WHERE billing_period BETWEEN ? AND ? GROUP BY ALL ORDER BY ALL",
        [start, end],
    ).fetchall()
    preview = ["| period | currency | as of | month to date | forecast |", "|---|---|---|---:|---:|"] + [
        f"| {p:%Y-%m} | {c} | {a} | {m:,.2f} | {f:,.2f} |" for p, c, a, m, f in totals
    ]
    return {"preview": MetadataValue.md("\n".join(preview))}


def recommendation_figures(
    con: duckdb.DuckDBPyConnection, settings: Settings, start: date, end: date
) -> dict:
    top = con.execute(
        "SELECT billing_period, kind, coalesce(resource_id, workload), monthly_saving, confidence FROM recommendations "
        "WHERE billing_period BETWEEN ? AND ? ORDER BY monthly_saving DESC LIMIT 10",
        [start, end],
    ).fetchall()
    preview = [
        "| period | kind | resource | saving / month | confidence |",
        "|---|---|---|---:|---|",
    ] + [f"| {p:%Y-%m} | {k} | {r} | {s:,.2f} | {c} |" for p, k, r, s, c in top]
    return {"preview": MetadataValue.md("\n".join(preview))}


cost_anomalies = lake_asset(
    "cost_anomalies",
    compute=compute_anomalies,
    checks={"anomalous_days": CheckWords(describe=describe_anomalies, rows_key="anomalies")},
)
month_end_forecast = lake_asset(
    "month_end_forecast", compute=_monthly(compute_forecast), figures=forecast_figures
)
budget_status = lake_asset(
    "budget_status",
    compute=_monthly(compute_budget_status),
    figures=lambda con, settings, start, end: {"budgets_file": str(settings.budgets_path or "none")},
    checks={"budget_thresholds_crossed": CheckWords(describe=describe_crossed, rows_key="budgets")},
)
recommendations = lake_asset(
    "recommendations", compute=_monthly(compute_recommendations), figures=recommendation_figures
)
