"""The short summary `make demo` prints: rows and totals per billing period, and where the dollars went."""

from __future__ import annotations

import duckdb

from pipelines.config import Settings


def print_summary(settings: Settings) -> None:
    """Print per billing period: lines, billed, effective, reconciliation difference; then category totals."""
    if not settings.warehouse.exists():
        print(f"no warehouse at {settings.warehouse}: run `mlcost run` first")
        return
    con = duckdb.connect(str(settings.warehouse), read_only=True)
    views = {r[0] for r in con.execute("SELECT view_name FROM duckdb_views() WHERE NOT internal").fetchall()}
    print(f"\nwarehouse: {settings.warehouse}")
    if "reconciliation" in views:
        print(
            f"{'billing period':<15}{'currency':<9}{'lines':>10}{'billed':>16}{'effective':>16}{'difference':>12}"
        )
        for row in con.execute(
            "SELECT billing_period, billing_currency, source_lines, source_billed_cost, source_effective_cost, "
            "difference FROM reconciliation ORDER BY 1, 2"
        ).fetchall():
            print(f"{row[0]!s:<15}{row[1]:<9}{row[2]:>10,}{row[3]:>16,.2f}{row[4]:>16,.2f}{row[5]:>12,.2f}")
    elif "line_items" in views:
        for row in con.execute(
            "SELECT billing_period, count(*), sum(billed_cost), sum(effective_cost) FROM line_items GROUP BY 1 ORDER BY 1"
        ).fetchall():
            print(f"{row[0]!s:<15}{row[1]:>10,}{row[2]:>16,.2f}{row[3]:>16,.2f}")
    if "cost_by_category_daily" in views:
        print("\neffective cost by category:")
        # Per currency: a sum of USD and EUR amounts is no amount at all.
        for row in con.execute(
            "SELECT strftime(date_trunc('month', usage_date), '%Y-%m') AS month, billing_currency, category, "
            "sum(effective_cost) FROM cost_by_category_daily GROUP BY ALL ORDER BY 1, 2, 4 DESC"
        ).fetchall():
            print(f"  {row[0]}  {row[2]:<10}{row[3]:>16,.2f} {row[1]}")
    for table in ("gpu_efficiency_daily", "cost_per_prediction_daily"):
        if table in views:
            n = con.execute(f'SELECT count(*) FROM "{table}"').fetchone()[0]
            print(f"{table}: {n:,} rows")
    con.close()
