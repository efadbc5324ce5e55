"""Run the invariant SQL of `sql/checks/` (each returns the rows that break it) for Dagster asset checks."""

from __future__ import annotations

from datetime import date

import duckdb
from dagster import MetadataValue

from pipelines.storage.sqlfiles import load_sql
from pipelines.storage.tables import TABLES

# Money is compared to the cent: a difference under half a cent is floating-point noise, not a lost dollar.
CENT = 0.005


def check_rows(
    con: duckdb.DuckDBPyConnection, table: str, check: str, start: date, end: date, **params: object
) -> list[dict]:
    """The rows that break `check` of `table` (sql/checks/<table>__<check>.sql) for start..end (days or billing
    periods); `params` are the check's other parameters (its threshold)."""
    sql = load_sql(TABLES[table].check_sql_name(check))
    cur = con.execute(sql, {"start_date": start, "end_date": end, **params})
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


# How many failing rows a check's description names; the rest are counted ("and 4 more") and listed in its
# metadata table. `mlcost run` prints the description of a failed check, so it must read well on one line.
DESCRIBED_ROWS = 3


def amount(value: float | None) -> str:
    """Money as a person reads it: thousands separated, to the cent, a real minus sign (−61.83)."""
    if value is None:
        return "NULL"
    return f"{value:,.2f}".replace("-", "−")


def summarize(rows: list[dict], line, what: str, limit: int = DESCRIBED_ROWS) -> str:
    """Plain text naming the first `limit` failing rows with their figures: `2 billing period(s): …; …`."""
    parts = [line(row) for row in rows[:limit]]
    more = f"; and {len(rows) - limit} more" if len(rows) > limit else ""
    return f"{len(rows)} {what}: " + "; ".join(parts) + more


def judged_days(start: date, end: date) -> dict:
    """Check metadata naming the day partitions a check judged (a run over a range judges them all at once)."""
    return {
        "partitions_judged": start.isoformat() if start == end else f"{start} … {end}",
        "first_partition": start.isoformat(),
        "last_partition": end.isoformat(),
    }


def judged_periods(start: date, end: date) -> dict:
    """Check metadata naming the billing periods (month partitions) a check judged."""
    first, last = f"{start:%Y-%m}", f"{end:%Y-%m}"
    return {
        "billing_periods_judged": first if first == last else f"{first} … {last}",
        "first_partition": start.isoformat(),
        "last_partition": end.isoformat(),
    }
