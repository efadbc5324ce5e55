"""A full disk during `mlcost run` is one line naming what could not be written, exit 1 (issue 21).

It used to end in tracebacks: `sqlite3.OperationalError: database or disk is full` from Dagster's run storage,
DuckDB's `IO Error: ... No space left on device` from a step's write. Simulated with a small tmpfs mounted on
MLCOST_HOME or on DAGSTER_HOME (the tests run as root; they skip, saying why, where mount is refused), and with
the errors themselves for `disk_full_message`.
"""

from __future__ import annotations

import errno
import os
import sqlite3
import subprocess
import sys
from datetime import datetime
from pathlib import Path

import duckdb
import pytest

from pipelines.storage.disk_space import disk_full_message
from tests.conftest import REPO
from tests.corpus import bad_inputs as corpus

TAIL = (
    "; the step that was writing published nothing (steps that finished are published whole); free space and run "
    "`mlcost run` again"
)


@pytest.fixture(scope="module")
def bill(tmp_path_factory) -> Path:
    """A legacy CUR CSV of 2026-10: three instances, two-hour lines every day (1,116 lines)."""
    rows = [
        corpus.cur1_row(datetime(2026, 10, day, hour), 0.5 + day / 100, resource=resource, hours=2)
        for day in range(1, 32)
        for hour in range(0, 24, 2)
        for resource in ("i-0a", "i-0b", "i-0c")
    ]
    return corpus.write_csv(tmp_path_factory.mktemp("bill") / "cur-2026-10.csv", corpus.CUR1_HEADER, rows)


@pytest.fixture
def small_disk(tmp_path):
    """Mount a tmpfs of the given size on a folder; unmounted at the end."""
    mounted = []

    def mount(folder: Path, size: str) -> Path:
        folder.mkdir(parents=True, exist_ok=True)
        result = subprocess.run(
            ["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(folder)],
            capture_output=True,
            text=True,
        )
        if result.returncode != 0:
            pytest.skip(f"cannot mount a small tmpfs here (needs root): {result.stderr.strip()}")
        mounted.append(folder)
        return folder

    yield mount
    for folder in mounted:
        subprocess.run(["umount", "-l", str(folder)], check=False)


def mlcost_run(tmp_path: Path, bill: Path) -> subprocess.CompletedProcess:
    environment = {k: v for k, v in os.environ.items() if not k.startswith(("MLCOST_", "DAGSTER_"))}
    environment.update(MLCOST_HOME=str(tmp_path / "home"), DAGSTER_HOME=str(tmp_path / "dagster"))
    return subprocess.run(
        [sys.executable, "-m", "pipelines.cli", "run", "--cur-source", str(bill)],
        capture_output=True, text=True, env=environment, cwd=REPO, timeout=900,
    )  # fmt: skip


def lake_lines(home: Path) -> dict[str, int]:
    """Rows per published table (each table is whole or absent: 1,116 lines, 31 days)."""
    out = {}
    for table in sorted(p.name for p in (home / "lake").glob("*") if p.is_dir()):
        files = sorted((home / "lake" / table).glob("*/data.parquet"))
        if files:
            out[table] = duckdb.sql(
                f"SELECT count(*) FROM read_parquet({[str(f) for f in files]})"
            ).fetchone()[0]
    return out


def test_a_full_lake_disk_is_one_line_and_a_rerun_with_space_completes(tmp_path, bill, small_disk):
    home = small_disk(tmp_path / "home", "400k")
    result = mlcost_run(tmp_path, bill)
    assert result.returncode == 1, result.stderr[-3000:]
    [line] = result.stderr.splitlines()
    assert line.startswith(f"mlcost: error: the disk is full: writing {home}/"), line
    assert line.endswith(f" failed: no space left on the disk of MLCOST_HOME={home}{TAIL}"), line
    # What was published is whole: line_items has its 1,116 lines; the daily step that hit the full disk, none.
    published = lake_lines(home)
    assert published.get("line_items") in (None, 1116)
    assert "cost_by_category_daily" not in published or published["cost_attribution"] == 1116

    subprocess.run(["mount", "-o", "remount,size=64m", str(home)], check=True)
    again = mlcost_run(tmp_path, bill)
    assert again.returncode == 0, again.stderr[-3000:]
    assert lake_lines(home)["line_items"] == 1116
    assert lake_lines(home)["cost_attribution"] >= 1116  # every line attributed to its days
    assert not list((home / "tmp").glob("write-*"))


def test_a_full_dagster_storage_disk_is_one_line(tmp_path, bill, small_disk):
    dagster_home = small_disk(tmp_path / "dagster", "400k")
    result = mlcost_run(tmp_path, bill)
    assert result.returncode == 1, result.stderr[-3000:]
    assert result.stderr.splitlines() == [
        "mlcost: error: the disk is full: Dagster's run storage could not be written: no space left on the disk of "
        f"DAGSTER_HOME={dagster_home}{TAIL}"
    ]
    published = lake_lines(tmp_path / "home") if (tmp_path / "home" / "lake").exists() else {}
    assert all(rows == 1116 for table, rows in published.items() if table != "reconciliation"), published


def test_each_kind_of_full_disk_error_is_recognised_wherever_it_is_wrapped(tmp_path, monkeypatch):
    monkeypatch.setenv("MLCOST_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path / "dagster"))
    target = tmp_path / "home" / "lake" / "line_items" / "_delivery.json"
    ours = OSError(errno.ENOSPC, "No space left on device", str(target))
    assert disk_full_message(ours) == (
        f"the disk is full: writing {target} failed: no space left on the disk of MLCOST_HOME={tmp_path / 'home'}"
        + TAIL
    )
    # Dagster's run storage, wrapped the way SQLAlchemy wraps it.
    try:
        try:
            raise sqlite3.OperationalError("database or disk is full")
        except sqlite3.OperationalError as exc:
            raise RuntimeError("(sqlite3.OperationalError) database or disk is full") from exc
    except RuntimeError as wrapped:
        assert disk_full_message(wrapped).startswith(
            f"the disk is full: Dagster's run storage could not be written: no space left on the disk of "
            f"DAGSTER_HOME={tmp_path / 'dagster'}"
        )
    # DuckDB's COPY into a scratch file, as a failed step's message carries it.
    scratch = tmp_path / "home" / "tmp" / "write-1-a" / "data_0.parquet"
    duck = duckdb.IOException(f'IO Error: Could not write file "{scratch}": No space left on device')
    assert disk_full_message(duck).startswith(f"the disk is full: writing {scratch} failed: no space left on")
    # Not a full disk: nothing to say.
    assert disk_full_message(OSError(errno.EACCES, "Permission denied", "/x")) is None
    assert disk_full_message(ValueError("no")) is None
