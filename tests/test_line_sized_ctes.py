"""No query keeps a copy of the lake's rows: a CTE DuckDB materializes holds aggregates, never lines.

DuckDB materializes a CTE that a query reads more than once: it writes every row of it to memory, then to the disk.
At 300M lines, commitment_utilization's `lines` (line_items of the period, read twice) spilled 30 GB in two
minutes and filled the disk (docs/benchmarks.md, section 12), and recommendations' `period_lines` (the period's
attribution rows, read four times) would have done the same. A CTE over the lake that several parts read is written
`as not materialized` (each part scans with its own filter and columns), or aggregated first.

The golden tests check the values, which are the same either way: this test runs `mlcost run`'s three Dagster runs on
a small month and reads the plan of every query a table is staged with, on its connection and with its parameters.
"""

from __future__ import annotations

import json

import pytest

from fixtures.model_company.scaled import generate_scaled_month
from pipelines.config import Settings
from pipelines.orchestration import runner
from pipelines.storage import lake

# Operators after which a subtree holds one row per group, not per line.
AGGREGATES = {"HASH_GROUP_BY", "PERFECT_HASH_GROUP_BY", "UNGROUPED_AGGREGATE", "SIMPLE_AGGREGATE"}


def _reads_rows_unaggregated(node: dict) -> bool:
    """Whether a plan subtree scans a Parquet file (a lake table) with no aggregate between the scan and its top."""
    if node.get("name") in AGGREGATES:
        return False
    if node.get("name") == "READ_PARQUET":
        return True
    return any(_reads_rows_unaggregated(child) for child in node.get("children", []))


def line_sized_ctes(node: dict) -> list[str]:
    """The materialized CTEs of a plan whose rows are a lake table's rows (DuckDB's CTE operator: its first child
    computes the CTE, its second child the query that reads it)."""
    found = []
    children = node.get("children", [])
    if node.get("name") == "CTE" and children and _reads_rows_unaggregated(children[0]):
        found.append(str(node.get("extra_info", {}).get("CTE Name")))
    for child in children:
        found += line_sized_ctes(child)
    return found


def test_the_rule_sees_a_materialized_copy_of_the_lines(tmp_path):
    settings = Settings(home=tmp_path / "home")
    con = lake.connect(settings)
    con.execute(f"COPY (SELECT range AS x FROM range(10)) TO '{tmp_path / 't.parquet'}' (FORMAT parquet)")
    con.execute(f"CREATE VIEW t AS SELECT * FROM read_parquet('{tmp_path / 't.parquet'}')")

    def plan(sql: str) -> dict:
        return json.loads(con.execute("EXPLAIN (FORMAT json) " + sql).fetchall()[0][1])[0]

    twice = "{} SELECT (SELECT count(*) FROM l WHERE x > 1), (SELECT count(*) FROM l WHERE x > 2)"
    assert line_sized_ctes(plan(twice.format("WITH l AS MATERIALIZED (SELECT * FROM t)"))) == ["l"]
    assert line_sized_ctes(plan(twice.format("WITH l AS NOT MATERIALIZED (SELECT * FROM t)"))) == []
    grouped = "WITH l AS MATERIALIZED (SELECT x % 2 AS k, count(*) AS n FROM t GROUP BY 1)"
    assert line_sized_ctes(plan(twice.format(grouped).replace("x >", "n >"))) == []


@pytest.fixture(scope="module")
def staged_plans(tmp_path_factory) -> dict[str, list[dict]]:
    """The plan of every query each table was staged with during `mlcost run` of a 20,000-line month."""
    root = tmp_path_factory.mktemp("ctes")
    generate_scaled_month(root / "export", lines=20_000, month="2026-10")
    plans: dict[str, list[dict]] = {}
    stage, stage_many = lake.PartitionWriter.stage, lake.PartitionWriter.stage_many

    def explain(writer, con, query, params):
        rows = con.execute("EXPLAIN (FORMAT json) " + query, params).fetchall()
        plans.setdefault(writer.table, []).append(json.loads(rows[0][1]))

    def explain_then_stage(writer, value, query, params=None):
        explain(writer, writer.con, query, params)
        return stage(writer, value, query, params)

    def explain_then_stage_many(writer, query, params=None, con=None):
        explain(writer, con or writer.con, query, params)
        return stage_many(writer, query, params, con=con)

    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("DAGSTER_HOME", str(root / "dagster_home"))
        mp.setenv("MLCOST_PARTITION_START", "2026-10-01")
        mp.setattr(lake.PartitionWriter, "stage", explain_then_stage)
        mp.setattr(lake.PartitionWriter, "stage_many", explain_then_stage_many)
        (root / "dagster_home").mkdir()
        settings = Settings(home=root / "home", cur_source=str(root / "export" / "cur2"))
        report = runner.run_pipeline(settings, ["2026-10-01"])
    assert set(report.run_ids) == {"ingest_billing", "daily_tables", "monthly_reconciliation"}
    return plans


def test_every_line_sized_table_and_the_monthly_tables_were_staged(staged_plans):
    # The month's tables over line_items and cost_attribution, and the two that once materialized their lines.
    for table in ("cost_attribution", "cost_by_category_daily", "reconciliation", "rule_coverage",
                  "tag_coverage", "commitment_utilization", "recommendations"):  # fmt: skip
        assert staged_plans.get(table), f"{table} was not staged: the test would check nothing for it"


def test_no_staged_query_materializes_a_copy_of_lake_rows(staged_plans):
    found = {
        table: ctes
        for table, plans in staged_plans.items()
        if (ctes := sorted({cte for plan in plans for root in plan for cte in line_sized_ctes(root)}))
    }
    assert found == {}, (
        f"CTEs DuckDB materializes with a lake table's rows (write them `as not materialized`): {found}"
    )
