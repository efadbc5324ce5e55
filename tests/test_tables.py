"""The table registry (pipelines/storage/tables.py) is the one declaration of each table: these tests hold the SQL, the
check files and the published columns to it."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import duckdb
import pytest

from pipelines.orchestration.lake_assets import deps
from pipelines.storage import lake, tables
from pipelines.storage.sqlfiles import load_sql
from pipelines.storage.tables import TABLES, Column, Table

SQL = Path(__file__).resolve().parents[1] / "sql"
_parser = duckdb.connect()
BUILTIN_TABLE_FUNCTIONS = {
    name
    for (name,) in _parser.execute(
        "SELECT function_name FROM duckdb_functions() WHERE function_type = 'table'"
    ).fetchall()
}


def relations(sql: str) -> set[str]:
    """The tables, views and table macros a SELECT reads, from DuckDB's own parser (CTE names left out)."""
    tree = json.loads(_parser.execute("SELECT json_serialize_sql(?::VARCHAR)", [sql]).fetchone()[0])
    assert not tree.get("error"), tree.get("error_message")
    names: set[str] = set()
    ctes: set[str] = set()

    def walk(node):
        if isinstance(node, dict):
            if node.get("type") == "BASE_TABLE":
                names.add(node["table_name"].lower())
            if node.get("type") == "TABLE_FUNCTION":
                names.add(node["function"]["function_name"].lower())
            for entry in node.get("cte_map", {}).get("map", []):
                ctes.add(entry["key"].lower())
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(tree)
    return names - ctes - BUILTIN_TABLE_FUNCTIONS


def staging_macro_body(name: str) -> str:
    """The SELECT of a table macro in sql/staging/<name>.sql (`create ... macro name(...) as table <select>`)."""
    text = (SQL / "staging" / f"{name}.sql").read_text()
    lowered = text.lower()
    return text[lowered.index(" as table") + len(" as table") :].strip().rstrip(";")


def lake_reads(table: Table) -> set[str]:
    """The lake tables a table's SQL reads, directly or through the staging macros it calls."""
    found, seen = set(), set()
    pending = list(relations((SQL / f"{table.name}.sql").read_text()))
    while pending:
        name = pending.pop()
        if name in seen:
            continue
        seen.add(name)
        if name in TABLES:
            found.add(name)
        elif (SQL / "staging" / f"{name}.sql").exists():
            pending += relations(staging_macro_body(name))
    return found


COMPUTED = [t for t in TABLES.values() if not t.view]


@pytest.mark.parametrize("table", COMPUTED, ids=lambda t: t.name)
def test_each_sql_reads_what_its_table_declares(table):
    """FROM/JOIN of sql/<table>.sql: the lake tables equal `reads`, everything else is a declared input."""
    direct = relations((SQL / f"{table.name}.sql").read_text())
    assert lake_reads(table) == set(table.reads), f"sql/{table.name}.sql vs pipelines/storage/tables.py reads"
    assert direct - set(TABLES) == set(table.inputs), (
        f"sql/{table.name}.sql vs pipelines/storage/tables.py inputs"
    )
    assert not set(table.reads) & set(table.python_reads)


def test_every_check_has_its_sql_file_and_every_file_a_check():
    declared = {f"{t.name}__{c.name}" for t in TABLES.values() for c in t.checks if c.sql}
    on_disk = {p.stem for p in (SQL / "checks").glob("*.sql")}
    assert declared == on_disk
    for stem in on_disk:
        table, check = stem.split("__")
        first = (SQL / "checks" / f"{stem}.sql").read_text().splitlines()[0]
        assert first.startswith(f"-- check {table}.{check}"), f"{stem}.sql names another check: {first}"


def test_every_check_says_what_to_do_when_it_fails():
    for table in TABLES.values():
        for check in table.checks:
            assert "When it" in check.description, f"{table.name}.{check.name}"


def test_reads_form_a_graph_in_layer_order():
    """Every read is a declared table, and none reads a table declared after it (no cycle)."""
    order = list(TABLES)
    for table in TABLES.values():
        for read in (*table.reads, *table.python_reads):
            assert read in TABLES, f"{table.name} reads undeclared {read}"
            assert order.index(read) < order.index(table.name) or table.view, f"{table.name} reads {read}"


def test_the_reconciliation_waits_for_every_monthly_table_it_publishes():
    assert set(deps("reconciliation")) == {"line_items", "cost_attribution"} | (
        set(tables.monthly_tables()) - {"line_items", "reconciliation"}
    )
    assert deps("gpu_samples") == ["cost_attribution"]


def test_column_problems_name_what_differs():
    declared = TABLES["rule_coverage"].column_names
    assert tables.column_problems("rule_coverage", declared) == []
    assert tables.column_problems("rule_coverage", declared[:-1]) == [
        f"declared but not computed: {declared[-1]}"
    ]
    assert tables.column_problems("rule_coverage", [*declared, "x"]) == ["computed but not declared: x"]
    swapped = [declared[1], declared[0], *declared[2:]]
    assert tables.column_problems("rule_coverage", swapped)[0].startswith("in another order than declared")


def test_a_column_declared_but_forgotten_in_the_sql_is_refused_before_publishing(settings, monkeypatch):
    """The worked example of docs/architecture.md: declare `usage_quantity` in the registry but not in
    sql/cost_by_category_daily.sql, and the real SQL's write fails naming it; nothing is published."""
    con = lake.connect(settings)
    # One day of cost_attribution (its declared columns), the table sql/cost_by_category_daily.sql reads.
    con.execute(f"CREATE TABLE cost_attribution ({TABLES['cost_attribution'].empty_columns()})")
    con.execute(
        "INSERT INTO cost_attribution (usage_date, billing_period, category, workload, rule_id, allocation, "
        "billed_cost, effective_cost, list_cost, usage_quantity, billing_currency) VALUES "
        "(DATE '2026-10-01', DATE '2026-10-01', 'training', 'llm', 'r1', 'direct', 3.0, 2.5, 4.0, 1.0, 'USD')"
    )
    declared = TABLES["cost_by_category_daily"]
    grown = Table(
        **{**declared.__dict__, "columns": (*declared.columns, Column("usage_quantity", "DOUBLE", "Usage."))}
    )
    day = date(2026, 10, 1)
    params = {"start_date": day, "end_date": day}
    query = load_sql("cost_by_category_daily")
    monkeypatch.setitem(TABLES, "cost_by_category_daily", grown)
    with pytest.raises(RuntimeError, match="declared but not computed: usage_quantity"):
        lake.publish_days(con, settings, "cost_by_category_daily", query, params, day, day)
    assert not lake.has_data(settings, "cost_by_category_daily")
    monkeypatch.setitem(TABLES, "cost_by_category_daily", declared)
    assert lake.publish_days(con, settings, "cost_by_category_daily", query, params, day, day) == {
        "2026-10-01": 1
    }


def test_empty_stand_ins_have_the_declared_columns_and_types(settings):
    con = lake.connect(settings)
    for name in ("gpu_samples", "gpu_efficiency_daily", "predictions_daily", "month_end_forecast"):
        assert not lake.register_view_or_empty(con, settings, name)
        described = con.execute(f"DESCRIBE {name}").fetchall()
        assert [(r[0], r[1]) for r in described] == [(c.name, c.type) for c in TABLES[name].columns]


def test_partition_folders_come_from_the_registry():
    assert {t.name: t.partitioned_by for t in TABLES.values() if t.partitioned_by} == lake.PARTITION_COLUMNS
    assert lake.PARTITION_COLUMNS["line_items"] == "billing_period"
    assert lake.PARTITION_COLUMNS["cost_per_prediction_daily"] == "usage_date"


def test_each_table_runs_in_the_job_of_its_partitioning():
    """By hand: the bill's months are ingested alone; days in daily_tables; the rest of the months reconcile."""
    assert tables.tables_of_job("ingest_billing") == ["line_items"]
    assert set(tables.tables_of_job("daily_tables")) == set(tables.daily_tables())
    assert "reconciliation" in tables.tables_of_job("monthly_reconciliation")
    assert "line_items" not in tables.tables_of_job("monthly_reconciliation")
    assert tables.job_of("line_items_history") is None
    every = [
        t
        for job in ("ingest_billing", "daily_tables", "monthly_reconciliation")
        for t in tables.tables_of_job(job)
    ]
    assert sorted(every) == sorted(t.name for t in tables.lake_tables())
