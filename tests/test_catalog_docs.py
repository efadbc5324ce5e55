"""Every table and column analysts see has a description, in the catalog (COMMENT ON) and docs/tables.md."""

from __future__ import annotations

import subprocess
import sys

import duckdb
import pytest
from test_examples import REPO, analyst_warehouse

from pipelines.cli.tables_doc import render_tables_doc
from pipelines.storage import lake
from pipelines.storage.tables import TABLES as REGISTRY
from pipelines.storage.warehouse import HISTORY_VIEW

PUBLISHED = set(lake.PARTITION_COLUMNS) | {HISTORY_VIEW}
# What the registry (pipelines/storage/tables.py) declares: each table's description and column descriptions.
TABLES = {name: {"description": t.description, "columns": t.descriptions} for name, t in REGISTRY.items()}


@pytest.fixture(scope="module")
def catalog(tmp_path_factory):
    """Views, their comments and their columns' comments, read back from a warehouse of the fixtures."""
    settings, _ = analyst_warehouse(tmp_path_factory)
    con = duckdb.connect(str(settings.warehouse), read_only=True)
    try:
        views = dict(
            con.execute("SELECT view_name, comment FROM duckdb_views() WHERE NOT internal").fetchall()
        )
        columns: dict[str, dict[str, str | None]] = {view: {} for view in views}
        for view, column, comment in con.execute(
            "SELECT table_name, column_name, comment FROM duckdb_columns() WHERE NOT internal "
            "ORDER BY column_index"
        ).fetchall():
            columns[view][column] = comment
    finally:
        con.close()
    return views, columns


def test_every_table_is_published_and_documented(catalog):
    views, _ = catalog
    assert set(views) == PUBLISHED
    assert set(TABLES) == PUBLISHED


def test_every_view_carries_its_description(catalog):
    views, _ = catalog
    missing = sorted(view for view, comment in views.items() if not (comment or "").strip())
    assert not missing, f"views without a description: {missing}"
    for view, comment in views.items():
        assert comment == TABLES[view]["description"], view


def test_every_published_column_has_a_description(catalog):
    _, columns = catalog
    undocumented = sorted(
        f"{view}.{column}"
        for view, cols in columns.items()
        for column, comment in cols.items()
        if not comment
    )
    assert not undocumented, f"describe these in pipelines/storage/tables.py: {undocumented}"
    for view, cols in columns.items():
        stale = sorted(set(TABLES[view]["columns"]) - set(cols))
        assert not stale, f"pipelines/storage/tables.py describes columns {view} does not have: {stale}"
        for column, comment in cols.items():
            assert comment == TABLES[view]["columns"][column], f"{view}.{column}"


def test_docs_tables_md_is_up_to_date():
    proc = subprocess.run(
        [sys.executable, "-m", "pipelines.cli", "docs", "tables", "--check"],
        capture_output=True,
        text=True,
        cwd=REPO,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr + "\n(run `mlcost docs tables` and commit docs/tables.md)"
    text = (REPO / "docs" / "tables.md").read_text()
    assert text == render_tables_doc()
    for table, doc in TABLES.items():
        assert f"## `{table}`" in text and doc["description"] in text, table
        for column, meaning in doc["columns"].items():
            assert f"| `{column}` | {meaning} |" in text, f"{table}.{column}"
