"""The attribution query's hash tables are built on the classes and the workloads, never on the lines.

DuckDB estimates the distinct classes and workloads of a month as many as its lines, so left to its join-order
optimizer it builds the workload join's hash table on the lines already joined to their class: at 300M lines a
one-day pass (9.7M lines, every column) ran out of memory (docs/benchmarks.md, section 10).
`compute.joins_as_written` keeps the joins as the SQL writes them. The golden tests check the values, which are
the same either way; this test reads the plan DuckDB runs, on the connection and with the parameters each pass
stages with, so it fails if a pass loses the setting. Even a 20,000-line month gets the line-sized build side
without it.
"""

from __future__ import annotations

import json
from datetime import date

import pytest

from fixtures.model_company.scaled import generate_scaled_month
from pipelines.attribution import compute
from pipelines.attribution.rules import load_rules
from pipelines.billing.deliveries import discover_deliveries
from pipelines.billing.ingest import ingest_deliveries
from pipelines.config import Settings
from pipelines.storage import lake


def _tables_read(node: dict) -> set[str]:
    """The tables a plan subtree scans (the rules' tables are temporary tables: SEQ_SCAN with a Table name)."""
    found = set()
    table = node.get("extra_info", {}).get("Table")
    if table:
        found.add(str(table).rsplit(".", 1)[-1])
    for child in node.get("children", []):
        found |= _tables_read(child)
    return found


def _key_joins(node: dict) -> dict[str, dict]:
    """The hash joins on class_key and workload_key in a plan, by key."""
    joins = {}
    conditions = str(node.get("extra_info", {}).get("Conditions", ""))
    if node.get("name") == "HASH_JOIN":
        for key in ("class_key", "workload_key"):
            if f"{key} = {key}" in conditions:
                joins[key] = node
    for child in node.get("children", []):
        joins |= _key_joins(child)
    return joins


@pytest.fixture(scope="module")
def small_month(tmp_path_factory):
    root = tmp_path_factory.mktemp("plan")
    generate_scaled_month(root / "export", lines=20_000, month="2026-10")
    settings = Settings(home=root / "home")
    con = lake.connect(settings)
    ingest_deliveries(
        con, settings, discover_deliveries(str(root / "export" / "cur2"), staging_dir=settings.staging)
    )
    return con, settings


@pytest.mark.parametrize("passes", [1, "several"])
def test_hash_tables_are_built_on_classes_and_workloads_not_on_lines(small_month, monkeypatch, passes):
    con, settings = small_month
    if passes != 1:
        # Each pass runs on a connection of its own (compute.attribute): each must run with the joins as written.
        monkeypatch.setattr(compute, "ATTRIBUTE_PASS_LINES", 2_000)
    plans = []
    stage_many = lake.PartitionWriter.stage_many

    def explain_then_stage(writer, query, params=None, con=None):
        rows = (con or writer.con).execute("EXPLAIN (FORMAT json) " + query, params).fetchall()
        plans.append(json.loads(rows[0][1]))
        return stage_many(writer, query, params, con=con)

    monkeypatch.setattr(lake.PartitionWriter, "stage_many", explain_then_stage)
    compute.attribute(con, settings, load_rules(), date(2026, 10, 1), date(2026, 10, 31))

    if passes == 1:
        assert len(plans) == 1
    else:
        assert len(plans) > 1, "2,000 lines a pass cut a 20,000-line month into several passes"
    for plan in plans:
        joins = {}
        for root in plan:
            joins |= _key_joins(root)
        assert set(joins) == {"class_key", "workload_key"}, joins.keys()
        # DuckDB builds a hash join's table on its second (right) child and streams the first through it.
        class_probe, class_build = joins["class_key"]["children"]
        workload_probe, workload_build = joins["workload_key"]["children"]
        # The class join is built on the classified classes (the rules' table joined to them), the workload join
        # on the workloads (whose subquery reads the workload mappings), and the lines stream through both.
        assert "attribution_rules" in _tables_read(class_build)
        assert "attribution_rules" not in _tables_read(class_probe)
        assert "workload_mappings" in _tables_read(workload_build)
        assert "attribution_rules" not in _tables_read(workload_build), (
            "the workload join is built on the lines"
        )
        assert _key_joins(workload_probe).keys() == {"class_key"}
