"""Analysts read the warehouse read-only (`mlcost sql`, the duckdb CLI, Python), anywhere, during runs."""

from __future__ import annotations

import csv
import io
import json
import os
import shutil
import subprocess
import sys
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import duckdb
import pytest
from test_examples import EXAMPLES, REPO, company_fixtures, compute_days, ingest

from pipelines.cli.sqlshell import duckdb_cli, shell
from pipelines.config import Settings
from pipelines.storage import lake
from pipelines.storage.warehouse import (
    HISTORY_VIEW,
    SNAPSHOT_GRACE,
    refresh_catalog,
    remove_old_snapshots,
    snapshots_dir,
)

CENT = 0.0051
TESTS = Path(__file__).resolve().parent


def _subprocess_env(home: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("MLCOST_") and k != "DAGSTER_HOME"}
    env.update(MLCOST_HOME=str(home), DAGSTER_HOME=str(home / "dagster_home"), PYTHONPATH=str(REPO))
    return env


# --- mlcost sql ---------------------------------------------------------------------------------------------


def test_sql_csv_and_json_give_the_reconciled_totals(mlcost_sql, warehouse):
    _, answers = warehouse
    query = (
        "SELECT billing_period, source_lines, source_effective_cost, difference "
        "FROM reconciliation ORDER BY 1"
    )
    status, out, _ = mlcost_sql(query, "--format", "csv")
    assert status == 0
    rows = list(csv.DictReader(io.StringIO(out)))
    assert [r["billing_period"] for r in rows] == ["2026-09-01", "2026-10-01"]
    for row in rows:
        planted = answers["billing_periods"][row["billing_period"][:7]]["cur2"]
        assert int(row["source_lines"]) == planted["lines"]
        assert float(row["source_effective_cost"]) == pytest.approx(planted["effective_cost"], abs=CENT)
        assert float(row["difference"]) == pytest.approx(0, abs=CENT)
    status, out, _ = mlcost_sql(query, "--format", "json")
    assert status == 0
    records = json.loads(out)
    assert [r["billing_period"] for r in records] == ["2026-09-01", "2026-10-01"]
    assert [r["source_lines"] for r in records] == [int(r["source_lines"]) for r in rows]
    assert records[1]["source_effective_cost"] == pytest.approx(
        float(rows[1]["source_effective_cost"]), abs=1e-6
    )


def test_sql_json_turns_nan_into_null(mlcost_sql):
    status, out, _ = mlcost_sql("SELECT 'nan'::DOUBLE AS ratio, DATE '2026-10-31' AS day", "--format", "json")
    assert status == 0
    assert json.loads(out) == [{"ratio": None, "day": "2026-10-31"}]


def test_sql_table_shows_the_values(mlcost_sql, warehouse):
    _, answers = warehouse
    status, out, _ = mlcost_sql(
        "SELECT category, round(sum(effective_cost), 2) AS effective FROM cost_by_category_daily "
        "WHERE usage_date >= DATE '2026-10-01' GROUP BY category ORDER BY effective DESC"
    )
    assert status == 0
    training = answers["billing_periods"]["2026-10"]["by_category"]["training"]["effective_cost"]
    assert "training" in out and f"{round(training, 2)}" in out
    assert out.index("training") < out.index("storage")


def test_sql_runs_an_example_file(mlcost_sql, warehouse):
    _, answers = warehouse
    status, out, _ = mlcost_sql(str(EXAMPLES / "month_to_date_vs_last_month.sql"), "--format", "json")
    assert status == 0
    got = {r["category"]: r["month_to_date"] for r in json.loads(out)}
    planted = answers["billing_periods"]["2026-10"]["by_category"]
    assert got == {c: pytest.approx(v["effective_cost"], abs=CENT) for c, v in planted.items()}


@pytest.mark.parametrize(
    "query, problem",
    [
        ("CREATE TABLE notes (x INT)", "read-only mode"),
        ("DROP VIEW line_items", "read-only mode"),
        ("SELECT * FROM no_such_table", "Table with name no_such_table does not exist"),
        ("SELECT 'abc'::INTEGER", "Could not convert string 'abc'"),
        ("SELEC 1", "syntax error"),
    ],
)
def test_sql_refuses_writes_and_reports_bad_queries_on_one_line(mlcost_sql, warehouse, query, problem):
    settings, _ = warehouse
    before = settings.warehouse.read_bytes()
    status, out, err = mlcost_sql(query)
    assert status == 2
    assert err.startswith("mlcost: error: query: ") and problem in err, err
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err
    assert settings.warehouse.read_bytes() == before


def test_sql_names_a_missing_file_and_a_missing_warehouse(mlcost_sql, tmp_path, monkeypatch):
    status, _, err = mlcost_sql(str(tmp_path / "nope.sql"))
    assert status == 2 and f"{tmp_path / 'nope.sql'}: no such SQL file" in err
    monkeypatch.setenv("MLCOST_HOME", str(tmp_path / "empty"))
    status, _, err = mlcost_sql("SELECT 1")
    assert status == 2 and str(tmp_path / "empty" / "warehouse.duckdb") in err and "mlcost run" in err


def test_builtin_prompt_answers_and_survives_a_bad_statement(warehouse, monkeypatch, capsys):
    settings, answers = warehouse
    monkeypatch.setattr(
        sys, "stdin", io.StringIO("SELECT nope;\nSELECT count(*) AS n\n  FROM line_items;\n.quit\n")
    )
    assert shell(settings) == 0
    out = capsys.readouterr().out
    lines = sum(answers["billing_periods"][m]["cur2"]["lines"] for m in ("2026-09", "2026-10"))
    assert "read-only" in out and "line_items_history" in out
    assert 'Binder Error: Referenced column "nope" was not found' in out and "mlcost> " in out
    assert str(lines) in out


def test_sql_without_a_query_opens_the_sandboxed_prompt(warehouse, tmp_path):
    # Not DuckDB's CLI: its allowed folders are writable and it has no statement gate (docs/reliability.md).
    settings, answers = warehouse
    proc = subprocess.run(
        [sys.executable, "-m", "pipelines.cli", "sql"],
        input=(
            "SELECT count(*) AS n FROM line_items;\nCREATE TABLE x (a INT);\n"
            f"COPY (SELECT 1 AS a) TO '{tmp_path}/out.csv';\n.tables\n"
        ),
        capture_output=True,
        text=True,
        env=_subprocess_env(settings.home),
        cwd=TESTS,
        timeout=120,
    )
    lines = sum(answers["billing_periods"][m]["cur2"]["lines"] for m in ("2026-09", "2026-10"))
    assert proc.returncode == 0, proc.stderr
    assert str(lines) in proc.stdout, proc.stdout + proc.stderr
    assert 'Cannot execute statement of type "CREATE"' in proc.stdout and "read-only mode" in proc.stdout
    assert "COPY is refused" in proc.stdout and not (tmp_path / "out.csv").exists()
    assert "cost_attribution  cost_by_category_daily" in proc.stdout


# --- plain DuckDB, from anywhere ----------------------------------------------------------------------------


def test_views_read_absolute_paths_of_an_immutable_snapshot(warehouse):
    settings, _ = warehouse
    con = duckdb.connect(str(settings.warehouse), read_only=True)
    try:
        definitions = dict(
            con.execute("SELECT view_name, sql FROM duckdb_views() WHERE NOT internal").fetchall()
        )
    finally:
        con.close()
    snapshot = str(snapshots_dir(settings)) + os.sep
    for view, sql in definitions.items():
        assert f"read_parquet('{snapshot}" in sql, (view, sql)
        assert str(settings.lake) not in sql, view


def test_duckdb_cli_readonly_from_another_directory(warehouse, tmp_path):
    settings, answers = warehouse
    cli = duckdb_cli() or shutil.which("duckdb")
    if cli is None:
        pytest.skip("no duckdb CLI installed (pip package duckdb-cli)")
    elsewhere = tmp_path / "somewhere" / "else"
    elsewhere.mkdir(parents=True)
    relative = os.path.relpath(settings.warehouse, elsewhere)
    proc = subprocess.run(
        [str(cli), "-readonly", relative, "-csv", "-c",
         "SELECT billing_period, count(*) AS lines, round(sum(effective_cost), 2) AS effective "
         "FROM line_items GROUP BY ALL ORDER BY 1"],
        capture_output=True, text=True, cwd=elsewhere, timeout=120,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    rows = list(csv.DictReader(io.StringIO(proc.stdout)))
    assert [r["billing_period"] for r in rows] == ["2026-09-01", "2026-10-01"]
    for row in rows:
        planted = answers["billing_periods"][row["billing_period"][:7]]["cur2"]
        assert int(row["lines"]) == planted["lines"]
        assert float(row["effective"]) == pytest.approx(planted["effective_cost"], abs=CENT)


def test_python_read_only_from_another_directory(warehouse, tmp_path):
    settings, answers = warehouse
    code = (
        "import duckdb, json, sys\n"
        "con = duckdb.connect(sys.argv[1], read_only=True)\n"
        "print(json.dumps(con.execute('SELECT count(*), count(DISTINCT superseded) FROM line_items_history')"
        ".fetchone()))\n"
    )
    proc = subprocess.run(
        [sys.executable, "-c", code, os.path.relpath(settings.warehouse, tmp_path)],
        capture_output=True, text=True, cwd=tmp_path, timeout=120,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout) == [answers["restatement"]["step1"]["lines"], 1]


# --- snapshots: an open session keeps its catalog; old snapshots go after a grace period --------------------


def test_an_open_session_keeps_its_version_and_a_new_one_sees_the_restatement(tmp_path_factory, tmp_path):
    fixtures, answers = company_fixtures(tmp_path_factory)
    restated = answers["restatement"]
    settings = Settings(home=tmp_path / "home")
    ingest(settings, fixtures / "restatement" / "step1")
    refresh_catalog(settings)
    query = "SELECT count(*), sum(billed_cost) FROM line_items"
    step1 = (restated["step1"]["lines"], pytest.approx(restated["step1"]["billed_cost"], abs=CENT))
    old = duckdb.connect(str(settings.warehouse), read_only=True)
    try:
        assert old.execute(query).fetchone() == step1
        ingest(settings, fixtures / "restatement" / "step2")
        refresh_catalog(settings)
        # The partition file was replaced under the open session: it still reads its own, whole version.
        assert old.execute(query).fetchone() == step1
        # A new session (another process: within one, connections to a file share the first one's catalog).
        code = (
            "import duckdb, json, sys\n"
            "con = duckdb.connect(sys.argv[1], read_only=True)\n"
            f"print(json.dumps([con.execute({query!r}).fetchone(),"
            f" con.execute('SELECT delivery_id, count(*) FROM {HISTORY_VIEW} GROUP BY ALL').fetchall()]))\n"
        )
        proc = subprocess.run(
            [sys.executable, "-c", code, str(settings.warehouse)], capture_output=True, text=True, timeout=120
        )
        assert proc.returncode == 0, proc.stderr
        (lines, billed), history = json.loads(proc.stdout)
        assert (lines, billed) == (
            restated["step2"]["lines"],
            pytest.approx(restated["step2"]["billed_cost"], abs=CENT),
        )
        assert history == [[restated["step1"]["execution_id"], restated["step1"]["lines"]]]
        assert old.execute(query).fetchone() == step1
    finally:
        old.close()
    assert len(list(snapshots_dir(settings).iterdir())) == 2


def test_old_snapshots_are_removed_a_grace_period_after_they_were_replaced(tmp_path):
    settings = Settings(home=tmp_path / "home")
    root = snapshots_dir(settings)
    now = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)

    def folder(age: timedelta) -> Path:
        path = root / f"{(now - age).strftime('%Y%m%dT%H%M%S%fZ')}-1-abcdef01"
        path.mkdir(parents=True)
        return path

    replaced_long_ago = folder(timedelta(hours=60))
    replaced_by_an_old_one = folder(
        SNAPSHOT_GRACE + timedelta(hours=2)
    )  # replaced by the next, 1 h in the grace
    within_grace = folder(SNAPSHOT_GRACE - timedelta(hours=1))
    current = folder(timedelta(minutes=5))
    killed_refresh = folder(timedelta(minutes=1))  # newer than the current catalog, never finished
    (root / "not-a-snapshot").mkdir()
    assert remove_old_snapshots(settings, keep=current, now=now) == 1
    assert not replaced_long_ago.exists()
    for path in (replaced_by_an_old_one, within_grace, current, killed_refresh, root / "not-a-snapshot"):
        assert path.exists(), path
    later = now + SNAPSHOT_GRACE + timedelta(minutes=2)
    assert remove_old_snapshots(settings, keep=current, now=later) == 3
    assert sorted(p.name for p in root.iterdir()) == sorted([current.name, "not-a-snapshot"])
    # Without a current catalog to keep, the newest snapshot stays whatever its age.
    assert remove_old_snapshots(settings, now=later + timedelta(days=30)) == 0


# --- concurrency: a reader in a loop while `mlcost run` replaces every partition ----------------------------


def _partition_expression(view: str) -> str:
    if view == HISTORY_VIEW:
        return "CAST(billing_period AS VARCHAR) || '/' || CAST(superseded AS VARCHAR)"
    return f"CAST({lake.PARTITION_COLUMNS[view]} AS VARCHAR)"


def fingerprints(con: duckdb.DuckDBPyConnection) -> dict[str, dict[str, list]]:
    """Per view and partition: row count and the sum of every row's hash (equal sums: the same rows)."""
    views = [
        r[0]
        for r in con.execute("SELECT view_name FROM duckdb_views() WHERE NOT internal ORDER BY 1").fetchall()
    ]
    out: dict[str, dict[str, list]] = {}
    for view in views:
        rows = con.execute(
            f"SELECT {_partition_expression(view)}, count(*), CAST(sum(hash(*COLUMNS(*))) AS VARCHAR) "
            f'FROM "{view}" GROUP BY 1'
        ).fetchall()
        out[view] = {key: [n, digest] for key, n, digest in rows}
    return out


def read_in_a_loop(warehouse: str, record: str, stop: str) -> None:
    """The reader process: connect read-only, fingerprint every view, record it, until `stop` exists."""
    with open(record, "w") as out:
        while True:
            last = os.path.exists(stop)
            start = time.time()
            try:
                con = duckdb.connect(warehouse, read_only=True)
                try:
                    for view, parts in fingerprints(con).items():
                        out.write(
                            json.dumps({"view": view, "parts": parts, "start": start, "end": time.time()})
                            + "\n"
                        )
                finally:
                    con.close()
            except Exception as exc:  # every error is the finding: record it and go on reading
                out.write(
                    json.dumps({"error": f"{type(exc).__name__}: {exc}", "start": start, "end": time.time()})
                    + "\n"
                )
            out.flush()
            if last:
                return
            time.sleep(0.05)  # leave the writer some CPU: the test is about correctness, not load


def _small_sources(fixtures: Path, root: Path) -> tuple[Path, Path]:
    """A few GPU logs and prediction counts: every daily table gets partitions, the run stays short."""
    gpu = root / "gpu"
    # ip-10-1-0-12 is the Kubernetes node: its pod labels give gpu_cost_by_pod_daily rows too.
    for host in ("ip-10-1-0-11", "ip-10-1-0-12"):
        (gpu / "dcgm" / host).mkdir(parents=True)
        for day in ("2026-10-30", "2026-10-31"):
            shutil.copy(fixtures / "gpu" / "dcgm" / host / f"{day}.prom", gpu / "dcgm" / host)
    shutil.copy(fixtures / "gpu" / "dcgm" / "hosts.csv", gpu / "dcgm" / "hosts.csv")
    shutil.copytree(
        fixtures / "gpu" / "nvidia-smi" / "i-0fd4b7807a1bb3d13", gpu / "nvidia-smi" / "i-0fd4b7807a1bb3d13"
    )
    predictions = root / "predictions"
    shutil.copytree(fixtures / "predictions" / "counts", predictions / "counts")
    shutil.copytree(fixtures / "predictions" / "sagemaker-csv", predictions / "sagemaker-csv")
    return gpu, predictions


def test_a_reader_never_fails_nor_sees_half_a_partition_while_mlcost_run_replaces_them(
    tmp_path_factory, tmp_path, record_property
):
    fixtures, answers = company_fixtures(tmp_path_factory)
    gpu, predictions = _small_sources(fixtures, tmp_path)
    settings = Settings(
        home=tmp_path / "home",
        cur_source=str(fixtures / "restatement" / "step1"),
        gpu_source=str(gpu),
        predictions_source=str(predictions),
    )
    # Version 1: the first ten days of 2026-10 (restatement step 1), every table published and in the catalog.
    ingest(settings, settings.cur_source)
    compute_days(settings, date(2026, 10, 1), date(2026, 10, 31))
    refresh_catalog(settings)
    con = duckdb.connect(str(settings.warehouse), read_only=True)
    try:
        before = fingerprints(con)
    finally:
        con.close()
    # The fixtures' GPU logs start on 2026-10-25, after step 1's ten days: the tables made only of samples inside
    # billed GPU time have no rows in version 1.
    sample_only = {"gpu_efficiency_by_device_daily", "gpu_cost_by_pod_daily"}
    assert set(before) == set(lake.PARTITION_COLUMNS) - sample_only

    record, stop = tmp_path / "reader.jsonl", tmp_path / "stop"
    reader = subprocess.Popen(
        [sys.executable, "-c",
         f"import sys; sys.path.insert(0, {str(TESTS)!r}); from test_analyst_access import read_in_a_loop; "
         "read_in_a_loop(*sys.argv[1:])", str(settings.warehouse), str(record), str(stop)],
        cwd=tmp_path, env=_subprocess_env(settings.home), stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 120
        while not (record.exists() and record.read_text().count("\n") >= len(before)):
            assert reader.poll() is None and time.monotonic() < deadline, "the reader did not start"
            time.sleep(0.2)
        # Version 2: the whole month (the export), a full Dagster run replacing every partition of 2026-10.
        write_start = time.time()
        writer = subprocess.run(
            [sys.executable, "-m", "pipelines.cli", "run", "--cur-source", str(fixtures / "cur2"),
             "--gpu-source", str(gpu), "--predictions-source", str(predictions),
             "--from", "2026-10", "--to", "2026-10"],
            capture_output=True, text=True, cwd=tmp_path, env=_subprocess_env(settings.home), timeout=900,
        )  # fmt: skip
        write_end = time.time()
        stop.touch()
        _, reader_err = reader.communicate(timeout=300)
    finally:
        if reader.poll() is None:
            reader.kill()
            reader.wait()
    assert writer.returncode == 0, writer.stdout[-2000:] + writer.stderr[-4000:]
    assert reader.returncode == 0, reader_err[-4000:]

    con = duckdb.connect(str(settings.warehouse), read_only=True)
    try:
        after = fingerprints(con)
        lines = con.execute("SELECT count(*) FROM line_items").fetchone()[0]
    finally:
        con.close()
    assert lines == answers["restatement"]["step2"]["lines"]
    assert set(after) == set(lake.PARTITION_COLUMNS) | {HISTORY_VIEW}
    assert before["line_items"]["2026-10-01"] != after["line_items"]["2026-10-01"]

    records = [json.loads(line) for line in record.read_text().splitlines()]
    errors = [r["error"] for r in records if "error" in r]
    assert not errors, f"{len(errors)} reader errors during the run, e.g. {errors[:3]}"
    half = []
    seen: dict[str, set] = {}
    for r in records:
        view = r["view"]
        old, new = before.get(view, {}), after.get(view, {})
        for key in set(old) | set(new) | set(r["parts"]):
            got = r["parts"].get(key)
            if got not in (old.get(key), new.get(key)):
                half.append((view, key, got, old.get(key), new.get(key)))
            if view == "line_items":
                seen.setdefault(key, set()).add(json.dumps(got))
    assert not half, f"{len(half)} partitions read as neither the old nor the new version, e.g. {half[:3]}"
    assert len(seen["2026-10-01"]) == 2  # the reader saw the old line_items and the new one

    during = [r for r in records if r["start"] >= write_start and r["end"] <= write_end]
    summary = {
        "reader_queries_during_write": len(during),
        "reader_queries": len(records),
        "write_seconds": round(write_end - write_start, 1),
    }
    (tmp_path / "reader_summary.json").write_text(json.dumps(summary))
    record_property("reader_queries_during_write", len(during))
    print(
        f"reader: {len(during)} queries during the {summary['write_seconds']} s write, {len(records)} in all"
    )
    assert len(during) > 0
