"""Run the invariant SQL of `sql/checks/` (each returns the rows that break it) for Dagster asset checks."""

from __future__ import annotations

from datetime import date

import duckdb
from dagster import MetadataValue

from pipelines.sqlfiles import load_sql

# Money is compared to the cent: a difference under half a cent is floating-point noise, not a lost dollar.
CENT = 0.005


def check_rows(con: duckdb.DuckDBPyConnection, name: str, start: date, end: date) -> list[dict]:
    """Rows returned by `sql/checks/<name>.sql` for the days start..end."""
    cur = con.execute(load_sql(f"checks/{name}"), {"start_date": start, "end_date": end})
    columns = [d[0] for d in cur.description]
    return [dict(zip(columns, row, strict=True)) for row in cur.fetchall()]


def rows_table(rows: list[dict], limit: int = 20) -> MetadataValue:
    """A markdown table of the first rows, for the check's metadata in the UI."""
    if not rows:
        return MetadataValue.md("none")
    columns = list(rows[0])
    lines = ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
    for row in rows[:limit]:
        cells = [f"{v:,.4f}" if isinstance(v, float) else str(v) for v in row.values()]
        lines.append("| " + " | ".join(cells) + " |")
    if len(rows) > limit:
        lines.append(f"\n… and {len(rows) - limit} more")
    return MetadataValue.md("\n".join(lines))
