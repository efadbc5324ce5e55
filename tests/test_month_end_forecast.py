"""month_end_forecast: the method by hand, a constant series (property), and the back-test on the generator."""

from __future__ import annotations

from datetime import date

import duckdb
import polars as pl
import pytest
from hypothesis import given
from hypothesis import settings as hsettings
from hypothesis import strategies as st

from fixtures.model_company import generate
from pipelines.decisions.forecast import INTERVAL_Z, backtest, forecast_rows

SEPTEMBER = date(2026, 9, 1)


def con_with(costs: list[tuple[date, str, str, float]]) -> duckdb.DuckDBPyConnection:
    """A connection whose cost_by_category_daily holds (usage_date, category, workload, effective_cost) rows."""
    con = duckdb.connect()
    con.execute(
        "CREATE TABLE cost_by_category_daily (usage_date DATE, category VARCHAR, workload VARCHAR, "
        "billing_currency VARCHAR, effective_cost DOUBLE)"
    )
    con.executemany(
        "INSERT INTO cost_by_category_daily VALUES (?, ?, ?, 'USD', ?)", [list(row) for row in costs]
    )
    return con


def test_forecast_by_hand():
    """Ten days of September (30 days): 100 a day for days 1–3, then 100, 120, 80, 100, 120, 80, 100.

    | figure | value | why |
    |---|---:|---|
    | as_of | 2026-09-10 | last day with cost |
    | mtd_cost | 1,000.00 | 300 + 700 |
    | daily_rate | 100.00 | mean of days 4–10 |
    | daily_stddev | 16.329932 | sample sd of 100,120,80,100,120,80,100 = √(1600/6) |
    | forecast | 3,000.00 | 1,000 + 100 × 20 days remaining |
    | half-width | 1.96 × 16.329932 × √(20 + 400/7) = 281.1178 | |
    """
    values = [100, 100, 100, 100, 120, 80, 100, 120, 80, 100]
    con = con_with([(date(2026, 9, d), "inference", "chat", float(v)) for d, v in enumerate(values, start=1)])
    (row,) = forecast_rows(con, SEPTEMBER)
    assert row["as_of"] == date(2026, 9, 10)
    assert (row["days_in_month"], row["days_elapsed"], row["days_remaining"], row["trailing_days"]) == (
        30,
        10,
        20,
        7,
    )
    assert row["mtd_cost"] == pytest.approx(1000.0, abs=1e-9)
    assert row["daily_rate"] == pytest.approx(100.0, abs=1e-9)
    assert row["daily_stddev"] == pytest.approx((1600 / 6) ** 0.5, abs=1e-6)
    assert row["forecast_cost"] == pytest.approx(3000.0, abs=1e-9)
    half = INTERVAL_Z * (1600 / 6) ** 0.5 * (20 + 400 / 7) ** 0.5
    assert half == pytest.approx(281.1178, abs=1e-4)
    assert (row["forecast_low"], row["forecast_high"]) == pytest.approx((3000 - half, 3000 + half), abs=1e-6)


def test_a_missing_day_counts_as_zero_and_one_day_has_no_interval():
    """Batch job: 700 on day 1 only, as of day 7 → rate 100/day; as of day 1 → rate 700, interval NULL."""
    con = con_with(
        [(date(2026, 9, 1), "training", "llama", 700.0), (date(2026, 9, 7), "storage", "llama", 1.0)]
    )
    rows = {r["category"]: r for r in forecast_rows(con, SEPTEMBER)}
    assert rows["training"]["daily_rate"] == pytest.approx(100.0, abs=1e-9)
    assert rows["training"]["forecast_cost"] == pytest.approx(700 + 100 * 23, abs=1e-9)
    (early,) = forecast_rows(con, SEPTEMBER, date(2026, 9, 1))
    assert early["forecast_cost"] == pytest.approx(700 * 30, abs=1e-9)
    assert early["forecast_low"] is None and early["daily_stddev"] is None


@hsettings(max_examples=40, deadline=None)
@given(
    daily=st.floats(min_value=0.0, max_value=1e6),
    month=st.integers(min_value=1, max_value=12),
    elapsed=st.integers(min_value=1, max_value=28),
)
def test_a_constant_daily_series_forecasts_constant_times_days(daily, month, elapsed):
    period = date(2025, month, 1)
    con = con_with([(period.replace(day=d), "inference", "w", daily) for d in range(1, elapsed + 1)])
    (row,) = forecast_rows(con, period)
    assert row["forecast_cost"] == pytest.approx(daily * row["days_in_month"], rel=1e-9, abs=1e-6)
    if elapsed == 1:  # one day has no spread to measure: no interval rather than a zero-width one
        assert row["forecast_low"] is None and row["forecast_high"] is None
    else:  # no spread: the interval is the point
        assert row["forecast_low"] == pytest.approx(row["forecast_cost"], rel=1e-9, abs=1e-6)
        assert row["forecast_high"] == pytest.approx(row["forecast_cost"], rel=1e-9, abs=1e-6)


@pytest.fixture(scope="module")
def generator_daily(tmp_path_factory) -> duckdb.DuckDBPyConnection:
    out = tmp_path_factory.mktemp("company")
    generate(out, seed=42, months=("2026-09", "2026-10"))
    con = duckdb.connect()
    daily = pl.read_csv(out / "answers_daily.csv", try_parse_dates=True)
    con.register("answers_daily", daily.with_columns(billing_currency=pl.lit("USD")))
    con.execute("CREATE VIEW cost_by_category_daily AS SELECT * FROM answers_daily")
    return con


# The back-test of docs/decisions.md (forecast of the month's total as of day 7, 14, 21 and 28 against the
# generator's truth, seed 42): (period, cut day) -> (error of the total, weighted APE over scopes).
BACKTEST = {
    (date(2026, 9, 1), 7): (0.0329, 0.0385),
    (date(2026, 9, 1), 14): (0.0075, 0.0346),
    (date(2026, 9, 1), 21): (-0.0043, 0.0109),
    (date(2026, 9, 1), 28): (-0.0038, 0.0110),
    (date(2026, 10, 1), 7): (-0.0454, 0.0732),
    (date(2026, 10, 1), 14): (0.0046, 0.0737),
    (date(2026, 10, 1), 21): (-0.0401, 0.0521),
    (date(2026, 10, 1), 28): (0.0082, 0.0129),
}


def test_backtest_on_the_generator_months_matches_the_docs(generator_daily):
    rows = backtest(generator_daily, [date(2026, 9, 1), date(2026, 10, 1)], [7, 14, 21, 28])
    got = {(r.billing_period, r.cut_day): (round(r.error_pct, 4), round(r.scope_wape, 4)) for r in rows}
    assert got == BACKTEST
    assert all(abs(r.error_pct) < 0.05 for r in rows)  # the total within 5 % from the first week
