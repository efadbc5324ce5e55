"""`mlcost sql` is a read-only sandbox: no statement can write a file, attach a database, load an extension,
read outside the published snapshot or unlock the configuration (issue 21, item 1).

Before the sandbox, each escape below ran with exit 0; the first replaced a published lake file, and the next
`mlcost run` kept the tampered totals because the source fingerprint had not changed.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import duckdb
import pytest
from test_examples import EXAMPLES

from pipelines.cli.sqlshell import connect, view_directories
from pipelines.config import Settings
from pipelines.storage import lake
from pipelines.storage.warehouse import snapshots_dir


def fingerprint(home: Path) -> dict[str, str]:
    """Every file under MLCOST_HOME (lake, snapshots, warehouse) with the SHA-256 of its bytes."""
    return {
        str(p.relative_to(home)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(home.rglob("*"))
        if p.is_file() and "dagster_home" not in p.parts
    }


def lake_file(settings: Settings) -> Path:
    return lake.partition_path(settings, "line_items", "2026-10-01")


def snapshot_file(settings: Settings) -> Path:
    (snapshot,) = [p for p in snapshots_dir(settings).iterdir() if p.is_dir()]
    return snapshot / "line_items" / "billing_period=2026-10-01.parquet"


# Each escape: the SQL (with {lake}, {snapshot}, {out} filled in) and the words its refusal must contain.
ESCAPES = {
    "copy over a lake file": (
        "COPY (SELECT * REPLACE (effective_cost * 100 AS effective_cost) FROM line_items) TO '{lake}' "
        "(FORMAT parquet)",
        "COPY is refused: mlcost sql runs in read-only mode",
    ),
    "copy in place over the snapshot's hard link": (
        "COPY (SELECT * FROM line_items) TO '{snapshot}' (FORMAT parquet, USE_TMP_FILE false)",
        "COPY is refused",
    ),
    "copy to another path": ("COPY (SELECT 1 AS a) TO '{out}/out.csv'", "COPY is refused"),
    "copy from a file": ("COPY line_items FROM '/etc/passwd'", "COPY is refused"),
    "export the database": ("EXPORT DATABASE '{out}/export'", "EXPORT is refused"),
    "explain analyze runs a copy": (
        "EXPLAIN ANALYZE COPY (SELECT 1 AS a) TO '{out}/out.csv'",
        "EXPLAIN is refused",
    ),
    "a copy after a select": ("SELECT 1; COPY (SELECT 1 AS a) TO '{out}/out.csv'", "COPY is refused"),
    "attach read-write": ("ATTACH '{out}/other.duckdb' (READ_WRITE)", "ATTACH is refused"),
    "install an extension": ("INSTALL httpfs", "INSTALL is refused"),
    "load an extension": ("LOAD httpfs", "LOAD is refused"),
    "unlock external access": (
        "SET enable_external_access = true",
        'Cannot change configuration option "enable_external_access" - the configuration has been locked',
    ),
    "unlock the configuration": (
        "SET lock_configuration = false",
        'Cannot change configuration option "lock_configuration" - the configuration has been locked',
    ),
    "widen the allowed folders": (
        "RESET allowed_directories",
        'Cannot change configuration option "allowed_directories" - the configuration has been locked',
    ),
    "read a system file": (
        "SELECT * FROM read_csv('/etc/passwd', sep = ':')",
        'Permission Error: Cannot access file "/etc/passwd"',
    ),
    "read the live lake instead of the snapshot": (
        "SELECT sum(effective_cost) FROM read_parquet('{lake}')",
        "Permission Error: Cannot access file",
    ),
    "list the home folder": ("SELECT * FROM glob('{out}/*')", "Permission Error"),
    "attach a new database inside the snapshot": (
        "ATTACH '{snapshot_dir}/line_items/evil.parquet' AS evil",
        "ATTACH is refused",
    ),
    "copy one database into another": ("COPY FROM DATABASE warehouse TO memory", "COPY is refused"),
    "prepare a copy": ("PREPARE p AS COPY (SELECT 1 AS a) TO '{out}/out.csv'", "PREPARE is refused"),
    "create a table in the warehouse": ("CREATE TABLE notes (x INT)", "attached in read-only mode"),
}


@pytest.mark.parametrize("escape", list(ESCAPES))
def test_every_escape_is_refused_on_one_line_and_changes_nothing(mlcost_sql, warehouse, tmp_path, escape):
    settings, _ = warehouse
    template, words = ESCAPES[escape]
    snapshot = snapshot_file(settings)
    query = template.format(
        lake=lake_file(settings), snapshot=snapshot, snapshot_dir=snapshot.parent.parent, out=tmp_path
    )
    before = fingerprint(settings.home)

    status, out, err = mlcost_sql(query)

    assert status == 2, (out, err)
    assert err.startswith("mlcost: error: query: ") and words in err, err
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err
    assert fingerprint(settings.home) == before
    assert list(tmp_path.iterdir()) == []


def test_the_sandbox_alone_refuses_what_duckdb_can_refuse(warehouse, tmp_path):
    """Below the statement gate, DuckDB's own settings refuse files outside the snapshot and any SET."""
    settings, _ = warehouse
    con = connect(settings)
    try:
        settings_in_force = dict(
            con.execute(
                "SELECT name, value FROM duckdb_settings() WHERE name IN "
                "('enable_external_access', 'lock_configuration')"
            ).fetchall()
        )
        assert settings_in_force == {"enable_external_access": "false", "lock_configuration": "true"}
        for sql in (
            f"COPY (SELECT 1 AS a) TO '{tmp_path}/out.csv'",
            f"COPY (SELECT 1 AS a) TO '{lake_file(settings)}'",
            f"ATTACH '{tmp_path}/other.duckdb' (READ_WRITE)",
            "INSTALL httpfs",
            "LOAD httpfs",
            "SELECT * FROM read_csv('/etc/passwd')",
        ):
            with pytest.raises(duckdb.PermissionException):
                con.execute(sql)
        with pytest.raises(duckdb.InvalidInputException, match="configuration has been locked"):
            con.execute("SET enable_external_access = true")
    finally:
        con.close()
    assert list(tmp_path.iterdir()) == []


def test_allowed_folders_are_exactly_the_snapshot_folders_the_views_read(warehouse):
    settings, _ = warehouse
    (snapshot,) = [p for p in snapshots_dir(settings).iterdir() if p.is_dir()]
    raw = duckdb.connect(str(settings.warehouse), read_only=True)
    try:
        views = [
            r[0] for r in raw.execute("SELECT view_name FROM duckdb_views() WHERE NOT internal").fetchall()
        ]
        folders = view_directories(raw)
    finally:
        raw.close()
    # One folder per view, each inside the current snapshot; nothing of the lake, the home or the staging area.
    assert folders == sorted(f"{snapshot / view}/" for view in views)
    con = connect(settings)
    try:
        allowed = con.execute("SELECT current_setting('allowed_directories')").fetchone()[0]
    finally:
        con.close()
    # DuckDB adds its own spill folder beside the database file (warehouse.duckdb.tmp).
    assert sorted(allowed) == sorted([*folders, f"{settings.warehouse}.tmp/"])


def test_every_table_and_every_example_still_answers(mlcost_sql, warehouse):
    settings, answers = warehouse
    raw = duckdb.connect(str(settings.warehouse), read_only=True)
    try:
        views = [
            r[0] for r in raw.execute("SELECT view_name FROM duckdb_views() WHERE NOT internal").fetchall()
        ]
        expected = {v: raw.execute(f'SELECT count(*) FROM "{v}"').fetchone()[0] for v in views}
    finally:
        raw.close()
    assert {"line_items", "cost_attribution", "reconciliation", "line_items_history"} <= set(views)
    for view, rows in expected.items():
        status, out, err = mlcost_sql(f'SELECT count(*) AS n FROM "{view}"', "--format", "json")
        assert status == 0, err
        assert json.loads(out) == [{"n": rows}], view
        # Tables of optional inputs are published empty when their input is absent (no budgets file, no idle GPU,
        # no pod labels, no anomaly): every other table has rows.
        assert rows > 0 or view in {
            "budget_status",
            "recommendations",
            "cost_anomalies",
            "gpu_cost_by_pod_daily",
        }, view
    lines = sum(answers["billing_periods"][m]["cur2"]["lines"] for m in ("2026-09", "2026-10"))
    assert expected["line_items"] == lines
    for example in sorted(EXAMPLES.glob("*.sql")):
        status, out, err = mlcost_sql(str(example), "--format", "json")
        assert status == 0, (example.name, err)
        assert isinstance(json.loads(out), list), example.name
    # SET VARIABLE is how the examples take their arguments; it stays allowed.
    status, out, _ = mlcost_sql(
        "SET VARIABLE day = DATE '2026-10-31'; SELECT getvariable('day') AS day", "--format", "csv"
    )
    assert (status, out.split()) == (0, ["day", "2026-10-31"])


def test_temp_objects_and_pivot_live_in_the_session_only(mlcost_sql, warehouse):
    """PIVOT (which creates an enum type), TEMP views and macros work; they touch no file and end with the session."""
    settings, answers = warehouse
    before = fingerprint(settings.home)
    status, out, err = mlcost_sql(
        "CREATE TEMP MACRO cents(x) AS round(x * 100); "
        "CREATE TEMP VIEW periods AS SELECT billing_period, source_lines FROM reconciliation; "
        "PIVOT periods ON billing_period USING sum(source_lines)",
        "--format",
        "json",
    )
    assert status == 0, err
    planted = answers["billing_periods"]
    assert json.loads(out) == [
        {"2026-09-01": planted["2026-09"]["cur2"]["lines"], "2026-10-01": planted["2026-10"]["cur2"]["lines"]}
    ]
    assert fingerprint(settings.home) == before
    status, _, err = mlcost_sql("SELECT * FROM periods")
    assert status == 2 and "Table with name periods does not exist" in err
