"""Warn about billing lines too large to believe (a 1e300 typo, cents written as dollars): `sql/checks/line_items__plausible_line_costs.sql`.

Such a line is valid input, so it is published; the `plausible_line_costs` asset check of `line_items` (a
warning) and `mlcost run`'s output list it. The bounds are documented in docs/ingestion.md.
"""

from __future__ import annotations

import math
from datetime import date

import duckdb

from pipelines.orchestration.checks import check_rows

# One line above this, in its own currency, is flagged whatever the rest of the month: AWS's largest single
# charges (multi-year upfront commitments) stay far below a billion; in JPY it is about 6.5 million USD.
MAX_LINE_COST = 1_000_000_000.0
# A line above MIN_FLAGGED_COST that is more than REST_FACTOR times the rest of its billing period and currency
# (absolute amounts) is flagged too: a month of 50 USD with one line of 100,000 USD.
REST_FACTOR = 1_000.0
MIN_FLAGGED_COST = 10_000.0


def implausible_lines(con: duckdb.DuckDBPyConnection, start_period: date, end_period: date) -> list[dict]:
    """Rows of sql/checks/line_items__plausible_line_costs.sql for billing periods start..end (`line_items` must be a view)."""
    return check_rows(
        con,
        "line_items",
        "plausible_line_costs",
        start_period,
        end_period,
        max_line_cost=MAX_LINE_COST,
        rest_factor=REST_FACTOR,
        min_flagged_cost=MIN_FLAGGED_COST,
    )


def describe(row: dict) -> str:
    """One line for the terminal: where the line is and why it is flagged."""
    where = row["source_file"] + (f", line {row['source_row']}" if row["source_row"] is not None else "")
    amount = max(abs(row["billed_cost"]), abs(row["effective_cost"]))
    why = (
        f"above {MAX_LINE_COST:,.0f}"
        if amount > MAX_LINE_COST
        else f"over {REST_FACTOR:,.0f} x the rest of the month ({row['rest_of_period']:,.2f})"
    )
    return (
        f"{where}: billing period {row['billing_period']:%Y-%m}: a {row['line_item_type'] or 'line'} of "
        f"{_money(row['billed_cost'])} {row['billing_currency']} billed ({_money(row['effective_cost'])} "
        f"effective) is {why}; it is published: check the export"
    )


def _money(value: float) -> str:
    return f"{value:,.2f}" if math.isfinite(value) and abs(value) < 1e15 else f"{value:.6g}"
