"""commitment_utilization (monthly): each Reserved Instance and Savings Plan's used and unused commitment, and the
share of eligible compute (instance hours, GPU hours, on-demand equivalent) the commitments covered.

SQL: sql/commitment_utilization.sql; definitions: docs/commitments.md.
"""

from datetime import date, timedelta

import duckdb
from dagster import MetadataValue

from pipelines.config import Settings
from pipelines.gpu.efficiency import register_gpu_types
from pipelines.orchestration.checks import CENT, amount, check_rows
from pipelines.orchestration.lake_assets import CheckWords, lake_asset
from pipelines.storage import lake
from pipelines.storage.sqlfiles import load_sql


def months_between(start_period: date, end_period: date) -> list[str]:
    """The first days of the months start_period..end_period, as partition values."""
    months, month = [], start_period.replace(day=1)
    while month <= end_period:
        months.append(month.isoformat())
        month = (month + timedelta(days=32)).replace(day=1)
    return months


def publish_monthly(
    con: duckdb.DuckDBPyConnection, settings: Settings, table: str, params: dict
) -> dict[str, int]:
    """Publish a monthly table for $start_period..$end_period; periods with no row lose their old partition."""
    with lake.PartitionWriter(con, settings, table) as writer:
        writer.stage_many(load_sql(table), params)
        for period in months_between(params["start_period"], params["end_period"]):
            if period not in writer.staged:
                writer.remove(period)
        return writer.publish()


def utilize(
    con: duckdb.DuckDBPyConnection, settings: Settings, start_period: date, end_period: date
) -> dict[str, int]:
    """Publish commitment_utilization for the billing periods start..end (first days of months); rows per period."""
    lake.register_views(con, settings, ["line_items"])
    register_gpu_types(con)
    params = {"start_period": start_period, "end_period": end_period}
    return publish_monthly(con, settings, "commitment_utilization", params)


def unexplained_commitments(
    con: duckdb.DuckDBPyConnection, settings: Settings, start_period: date, end_period: date
) -> list[dict]:
    """Commitments whose stated cost is not used + unused to the cent (sql/checks/commitment_utilization__commitment_used_plus_unused.sql)."""
    lake.register_views(con, settings, ["commitment_utilization"])
    return check_rows(
        con, "commitment_utilization", "commitment_used_plus_unused", start_period, end_period, cent=CENT
    )


def commitment_figures(con: duckdb.DuckDBPyConnection, settings: Settings, start: date, end: date) -> dict:
    """The largest commitments of the run's periods: total, utilization and coverage in %."""
    rows = con.execute(
        "SELECT billing_period, commitment_type, commitment_id, round(total_commitment_cost, 2), "
        "round(100 * utilization, 1), round(100 * hours_coverage, 1), round(100 * gpu_hours_coverage, 1) "
        "FROM commitment_utilization WHERE billing_period BETWEEN ? AND ? ORDER BY 1, 4 DESC LIMIT 20",
        [start, end],
    ).fetchall()
    table = [
        "| period | type | commitment | total | utilization % | hours covered % | GPU hours covered % |",
        "|---|---|---|---:|---:|---:|---:|",
    ] + [f"| {' | '.join('' if v is None else str(v) for v in row)} |" for row in rows]
    return {
        "commitments": MetadataValue.md("\n".join(table) if rows else "no commitment lines in the period(s)")
    }


commitment_utilization = lake_asset(
    "commitment_utilization",
    compute=utilize,
    figures=commitment_figures,
    checks={
        "commitment_used_plus_unused": CheckWords(
            line=lambda r: (
                f"{r['billing_period']:%Y-%m} {r['commitment_id']}: stated {amount(r['total_commitment_cost'])}, "
                f"used {amount(r['used_commitment_cost'])} + unused {amount(r['unused_commitment_cost'])} "
                f"(difference {amount(r['unexplained_cost'])})"
            ),
            what="commitment(s) whose cost is not used + unused to the cent",
            passed="each CUR commitment's cost as its fee lines state it equals the used cost of the usage it "
            "covered plus its unused cost, to the cent; a difference means covered usage or fee lines are missing "
            "from the delivery",
            params=lambda settings: {"cent": CENT},
        )
    },
)
