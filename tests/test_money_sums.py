"""Money summed over lines is exact to the cent, however many lines and in whatever order they are read.

A plain floating-point sum rounds at every addition, by up to half a unit of the running total's last place, so
its error grows with the number of lines times the total. The 300M-line month (Σ effective cost ~1.2 billion)
summed with `sum()` came out 0.22 below the exact Σ, the billed cost 0.08 below (1,143,432,273.01 for a bill of
1,143,432,273.09), and line_items and cost_attribution, the same dollars read in another order, differed by
0.0076: the blocking reconciliation check failed a correct attribution (docs/benchmarks.md, section 11).
Money is summed with DuckDB's `fsum` (compensated summation): exact to a few units of the last place of the total.

The month here has the same product of line count and total (1M lines of ~1M dollars), so `sum()` misses the
exact total by cents where `fsum` does not. One thread, so the order of the additions, and the result, are fixed.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import duckdb
import pytest

from pipelines.storage.sqlfiles import load_sql

PERIOD = date(2026, 10, 1)
LINES = 1_000_000


@pytest.fixture(scope="module")
def con():
    con = duckdb.connect(config={"threads": 1})
    # Line amounts in cents, ~1M dollars each; cost_attribution holds the same amounts in another order (by day,
    # as attribution writes them), line_items in export order. Three days: a day has many lines too.
    con.execute(
        "CREATE TABLE line_items AS SELECT ?::DATE AS billing_period, 'USD' AS billing_currency, 'd1' AS delivery_id, "
        "round(1e6 + (hash(i) % 100000000) / 100, 2)::DOUBLE AS effective_cost, "
        "round(9e5 + (hash(i + 7) % 100000000) / 100, 2)::DOUBLE AS billed_cost, "
        "?::DATE + (hash(i + 13) % 3)::INTEGER AS usage_date FROM range(?) AS r(i)",
        [PERIOD, PERIOD, LINES],
    )
    con.execute(
        "CREATE TABLE cost_attribution AS SELECT billing_period, billing_currency, usage_date, effective_cost, "
        "billed_cost, effective_cost AS list_cost, 'training' AS category, 'w' AS workload, 'direct' AS allocation, "
        "NULL::VARCHAR AS model, NULL::VARCHAR AS team, NULL::VARCHAR AS project, NULL::VARCHAR AS environment "
        "FROM line_items ORDER BY usage_date, effective_cost"
    )
    con.execute("CREATE TABLE generations AS SELECT ?::DATE AS billing_period, 'g' AS generation", [PERIOD])
    yield con
    con.close()


def exact(con, column: str, table: str = "line_items") -> Decimal:
    return con.execute(f"SELECT sum({column}::DECIMAL(38, 2)) FROM {table}").fetchone()[0]


def test_the_reconciliation_states_the_exact_totals_and_no_difference(con):
    (row,) = con.execute(
        load_sql("reconciliation"), {"start_period": PERIOD, "end_period": PERIOD}
    ).fetchall()
    names = [d[0] for d in con.description]
    row = dict(zip(names, row, strict=True))
    # With sum() the effective total here is 4.8 cents off.
    for column in ("effective_cost", "billed_cost"):
        total = exact(con, column)
        assert abs(Decimal(row[f"source_{column}"]) - total) < Decimal("0.001"), column
        assert abs(Decimal(row[f"attributed_{column}"]) - total) < Decimal("0.001"), column
    assert abs(row["difference"]) < 0.001 and abs(row["billed_difference"]) < 0.001
    assert row["source_lines"] == LINES


def test_the_blocking_reconciliation_check_passes_the_same_dollars_read_in_another_order(con):
    failing = con.execute(
        load_sql("checks/cost_attribution__attributed_equals_source_per_day"),
        {"start_date": PERIOD, "end_date": date(2026, 10, 31), "cent": 0.005},
    ).fetchall()
    assert failing == []


def test_each_days_category_total_is_that_days_exact_total(con):
    rows = con.execute(
        load_sql("cost_by_category_daily"), {"start_date": PERIOD, "end_date": date(2026, 10, 31)}
    ).fetchall()
    names = [d[0] for d in con.description]
    exact_by_day = dict(
        con.execute(
            "SELECT usage_date, sum(effective_cost::DECIMAL(38, 2)) FROM line_items GROUP BY 1"
        ).fetchall()
    )
    assert len(rows) == 3
    for row in map(lambda r: dict(zip(names, r, strict=True)), rows):
        day = row["usage_date"]
        assert abs(Decimal(row["effective_cost"]) - exact_by_day[day]) < Decimal("0.0005"), day
