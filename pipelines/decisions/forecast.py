"""Publish month_end_forecast (sql/month_end_forecast.sql) per billing period, and back-test the method.

TRAILING_DAYS = 7: a whole week, so the daily rate holds as many weekend days as the weeks to come; a longer
window reacts later to a model launched or stopped mid-month (docs/decisions.md has the back-test).
INTERVAL_Z = 1.96: a 95 % interval if the remaining days were independent draws like the trailing ones; the
back-test reports how often the real month end fell inside it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

import duckdb

from pipelines.config import Settings
from pipelines.storage import lake
from pipelines.storage.sqlfiles import load_sql

TRAILING_DAYS = 7
INTERVAL_Z = 1.96


def parameters(billing_period: date, as_of: date | None = None) -> dict:
    return {
        "billing_period": billing_period,
        "as_of": as_of,
        "trailing_days": TRAILING_DAYS,
        "interval_z": INTERVAL_Z,
    }


def forecast_rows(
    con: duckdb.DuckDBPyConnection, billing_period: date, as_of: date | None = None
) -> list[dict]:
    """The forecast of one month as of a day (None: the month's last day with cost), over a registered
    cost_by_category_daily."""
    cur = con.execute(load_sql("month_end_forecast"), parameters(billing_period, as_of))
    columns = [d[0] for d in cur.description]
    return [dict(zip(columns, row, strict=True)) for row in cur.fetchall()]


def compute_forecast(
    con: duckdb.DuckDBPyConnection, settings: Settings, periods: list[date]
) -> dict[str, int]:
    """Publish month_end_forecast for each billing period (a month without cost: an empty partition)."""
    lake.register_views(con, settings, ["cost_by_category_daily"])
    with lake.PartitionWriter(con, settings, "month_end_forecast") as writer:
        for period in periods:
            writer.stage(period.isoformat(), load_sql("month_end_forecast"), parameters(period))
        return writer.publish()


@dataclass(frozen=True)
class BacktestRow:
    billing_period: date
    cut_day: int
    actual: float
    forecast: float
    error_pct: float  # (forecast − actual) / actual of the month's total
    scope_wape: float  # Σ |forecast − actual| / Σ actual over category × workload scopes
    inside_interval: float  # share of scopes whose month end fell inside [low, high]


def backtest(con: duckdb.DuckDBPyConnection, periods: list[date], cut_days: list[int]) -> list[BacktestRow]:
    """Forecast each month as of each cut day and compare with the month's actual cost per scope and in total."""
    out = []
    for period in periods:
        month_end = (period.replace(day=28) + timedelta(days=4)).replace(day=1) - timedelta(days=1)
        actual = {
            (c, w, cur): cost
            for c, w, cur, cost in con.execute(
                "SELECT category, workload, billing_currency, fsum(effective_cost) FROM cost_by_category_daily "
                "WHERE usage_date BETWEEN ? AND ? GROUP BY ALL",
                [period, month_end],
            ).fetchall()
        }
        for cut in cut_days:
            rows = {
                (r["category"], r["workload"], r["billing_currency"]): r
                for r in forecast_rows(con, period, period + timedelta(days=cut - 1))
            }
            keys = set(actual) | set(rows)
            predicted = {k: rows[k]["forecast_cost"] if k in rows else 0.0 for k in keys}
            truth = {k: actual.get(k, 0.0) for k in keys}
            inside = [
                k
                for k in rows
                if rows[k]["forecast_low"] is not None
                and rows[k]["forecast_low"] - 0.005 <= truth[k] <= rows[k]["forecast_high"] + 0.005
            ]
            total, total_forecast = sum(truth.values()), sum(predicted.values())
            out.append(
                BacktestRow(
                    billing_period=period,
                    cut_day=cut,
                    actual=total,
                    forecast=total_forecast,
                    error_pct=(total_forecast - total) / total,
                    scope_wape=sum(abs(predicted[k] - truth[k]) for k in keys)
                    / sum(abs(v) for v in truth.values()),
                    inside_interval=len(inside) / len(rows) if rows else 0.0,
                )
            )
    return out
