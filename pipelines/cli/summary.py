"""The short summary `make demo` prints: rows and totals per billing period, and where the dollars went.

`mlcost summary --format csv|json` gives the same figures to programs: JSON as one object of sections, CSV as
tidy rows (section, period, currency, item, value; the
period is the billing period, or the usage month for categories). Money is rounded to the cent there, as printed.
"""

from __future__ import annotations

import csv
import json
import sys
from typing import SupportsFloat

import duckdb

from pipelines.config import Settings
from pipelines.errors import InputError

MONEY_DECIMALS = 2


def print_summary(settings: Settings, fmt: str = "table") -> None:
    """Print per billing period: lines, billed, effective, reconciliation difference; then category totals."""
    if not settings.warehouse.exists():
        if fmt != "table":  # a program must not read an empty answer as "no cost"
            raise InputError(settings.warehouse, "no warehouse yet: run `mlcost run` (or `make demo`) first")
        print(f"no warehouse at {settings.warehouse}: run `mlcost run` first")
        return
    con = duckdb.connect(str(settings.warehouse), read_only=True)
    try:
        if fmt == "table":
            _print_table(con, settings)
        else:
            _print_data(summary_data(con, settings), fmt)
    finally:
        con.close()


def _views(con: duckdb.DuckDBPyConnection) -> set[str]:
    return {r[0] for r in con.execute("SELECT view_name FROM duckdb_views() WHERE NOT internal").fetchall()}


def _print_table(con: duckdb.DuckDBPyConnection, settings: Settings) -> None:
    views = _views(con)
    print(f"\nwarehouse: {settings.warehouse}")
    if "reconciliation" in views:
        print(
            f"{'billing period':<15}{'currency':<9}{'lines':>10}{'billed':>16}{'effective':>16}{'difference':>12}"
        )
        for row in con.execute(
            "SELECT billing_period, billing_currency, source_lines, source_billed_cost, source_effective_cost, "
            "difference FROM reconciliation ORDER BY 1, 2"
        ).fetchall():
            print(
                f"{row[0]!s:<15}{row[1]:<9}{row[2]:>10,}{row[3]:>16,.2f}{row[4]:>16,.2f}{_cents(row[5]):>12,.2f}"
            )
    elif "line_items" in views:
        for row in con.execute(
            "SELECT billing_period, count(*), fsum(billed_cost), fsum(effective_cost) FROM line_items GROUP BY 1 ORDER BY 1"
        ).fetchall():
            print(f"{row[0]!s:<15}{row[1]:>10,}{row[2]:>16,.2f}{row[3]:>16,.2f}")
    if "cost_by_category_daily" in views:
        print("\neffective cost by category:")
        # Per currency: a sum of USD and EUR amounts is no amount at all.
        for row in con.execute(
            "SELECT strftime(date_trunc('month', usage_date), '%Y-%m') AS month, billing_currency, category, "
            "fsum(effective_cost) FROM cost_by_category_daily GROUP BY ALL ORDER BY 1, 2, 4 DESC"
        ).fetchall():
            print(f"  {row[0]}  {row[2]:<10}{row[3]:>16,.2f} {row[1]}")
    for table in ("gpu_efficiency_daily", "cost_per_prediction_daily"):
        if table in views:
            n = con.execute(f'SELECT count(*) FROM "{table}"').fetchone()[0]
            print(f"{table}: {n:,} rows")


def _cents(value: SupportsFloat | None) -> float | None:
    # + 0.0: a difference summed to -1e-15 rounds to -0.0, which would print as "-0.00".
    return None if value is None else round(float(value), MONEY_DECIMALS) + 0.0


def summary_data(con: duckdb.DuckDBPyConnection, settings: Settings) -> dict:
    """The summary's figures as data: billing periods, effective cost by month and category, table row counts."""
    views = _views(con)
    periods = []
    if "reconciliation" in views:
        for row in con.execute(
            "SELECT billing_period, billing_currency, source_lines, source_billed_cost, source_effective_cost, "
            "difference FROM reconciliation ORDER BY 1, 2"
        ).fetchall():
            periods.append(
                {
                    "billing_period": str(row[0]),
                    "currency": row[1],
                    "lines": int(row[2]),
                    "billed_cost": _cents(row[3]),
                    "effective_cost": _cents(row[4]),
                    "difference": _cents(row[5]),
                }
            )
    elif "line_items" in views:
        for row in con.execute(
            "SELECT billing_period, count(*), fsum(billed_cost), fsum(effective_cost) FROM line_items GROUP BY 1 ORDER BY 1"
        ).fetchall():
            periods.append(
                {
                    "billing_period": str(row[0]),
                    "currency": None,
                    "lines": int(row[1]),
                    "billed_cost": _cents(row[2]),
                    "effective_cost": _cents(row[3]),
                    "difference": None,
                }
            )
    categories = []
    if "cost_by_category_daily" in views:
        for row in con.execute(
            "SELECT strftime(date_trunc('month', usage_date), '%Y-%m') AS month, billing_currency, category, "
            "fsum(effective_cost) FROM cost_by_category_daily GROUP BY ALL ORDER BY 1, 2, 4 DESC"
        ).fetchall():
            categories.append(
                {"month": row[0], "currency": row[1], "category": row[2], "effective_cost": _cents(row[3])}
            )
    rows = {
        table: int(con.execute(f'SELECT count(*) FROM "{table}"').fetchone()[0])
        for table in ("gpu_efficiency_daily", "cost_per_prediction_daily")
        if table in views
    }
    return {
        "warehouse": str(settings.warehouse),
        "billing_periods": periods,
        "effective_cost_by_category": categories,
        "table_rows": rows,
    }


def _print_data(data: dict, fmt: str) -> None:
    if fmt == "json":
        json.dump(data, sys.stdout, indent=1, ensure_ascii=False)
        print()
        return
    writer = csv.writer(sys.stdout)
    writer.writerow(["section", "period", "currency", "item", "value"])
    for p in data["billing_periods"]:
        for item in ("lines", "billed_cost", "effective_cost", "difference"):
            if p[item] is not None:
                writer.writerow(["billing_period", p["billing_period"], p["currency"] or "", item, p[item]])
    for c in data["effective_cost_by_category"]:
        writer.writerow(
            ["effective_cost_by_category", c["month"], c["currency"], c["category"], c["effective_cost"]]
        )
    for table, n in data["table_rows"].items():
        writer.writerow(["table_rows", "", "", table, n])
