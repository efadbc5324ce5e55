"""MLCOST_EXECUTOR=multiprocess: jobs on Dagster's multiprocess executor, partitions in parallel runs.

`mlcost run` then runs each billing period's ingestion, and whole periods of daily tables, as parallel Dagster
runs in their own processes; the totals are the in-process run's, to the cent.
"""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import datetime
from pathlib import Path

import pytest
from dagster import DagsterInstance, RunsFilter

from pipelines.config import Settings, SettingsError
from pipelines.orchestration.code_location import build_definitions
from pipelines.orchestration.instance_config import POOL, write_instance_config
from pipelines.orchestration.runner import chunks
from tests.corpus import bad_inputs as corpus

REPO_ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.parametrize(
    ("keys", "workers", "expected"),
    [
        (["a", "b", "c", "d", "e"], 2, [("a", "c"), ("d", "e")]),
        (["a", "b", "c", "d", "e"], 3, [("a", "b"), ("c", "d"), ("e", "e")]),
        (["a", "b"], 4, [("a", "a"), ("b", "b")]),
        (["a"], 1, [("a", "a")]),
    ],
)
def test_ranges_are_contiguous_near_equal_and_no_more_than_the_workers(keys, workers, expected):
    assert chunks(keys, workers) == expected


def test_the_executor_setting_chooses_the_jobs_executor(tmp_path):
    parallel = Settings(home=tmp_path, executor="multiprocess", max_workers=3)
    defs = build_definitions(parallel, start=datetime(2026, 10, 1).date())
    executor = defs.resolve_job_def("daily_tables").executor_def
    assert executor.name == "multiprocess"
    serial = build_definitions(Settings(home=tmp_path), start=datetime(2026, 10, 1).date())
    assert serial.resolve_job_def("daily_tables").executor_def.name == "in_process"
    with pytest.raises(
        SettingsError, match=r"MLCOST_EXECUTOR='threads' is not accepted.*in_process or multiprocess"
    ):
        Settings(home=tmp_path, executor="threads")
    with pytest.raises(SettingsError, match=r"MLCOST_MAX_WORKERS='0' is not accepted"):
        Settings(home=tmp_path, max_workers=0)


def test_the_instance_locks_per_partition(tmp_path, monkeypatch):
    path = write_instance_config(tmp_path / "dagster_home")
    monkeypatch.setenv("DAGSTER_HOME", str(path.parent))
    with DagsterInstance.get() as instance:
        limits = instance.get_concurrency_config().run_queue_config.tag_concurrency_limits
    assert limits == [{"key": "dagster/partition", "value": {"applyLimitPerUniqueValue": True}, "limit": 1}]


def _two_months(root: Path) -> Path:
    """September and October 2026 as one legacy CUR CSV delivery each (the same folder: two billing periods)."""
    sept = [
        corpus.cur1_row(datetime(2026, 9, d, 3), 1.25, period="2026-09-01T00:00:00Z") for d in range(1, 31)
    ]
    octo = [corpus.cur1_row(datetime(2026, 10, d, 3), 2.5, resource="i-0b") for d in range(1, 32)]
    corpus.write_csv(root / "cur-2026-09.csv", corpus.CUR1_HEADER, sept)
    corpus.write_csv(root / "cur-2026-10.csv", corpus.CUR1_HEADER, octo)
    return root


def _run(tmp_path: Path, source: Path, name: str, executor: str) -> tuple[str, Path]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("MLCOST_") and k != "DAGSTER_HOME"}
    env.update(
        MLCOST_HOME=str(tmp_path / name),
        DAGSTER_HOME=str(tmp_path / name / "dagster_home"),
        MLCOST_EXECUTOR=executor,
        MLCOST_MAX_WORKERS="2",
        PYTHONPATH=str(REPO_ROOT),
    )
    result = subprocess.run(
        [sys.executable, "-m", "pipelines.cli", "run", "--cur-source", str(source)],
        capture_output=True,
        text=True,
        env=env,
        cwd=REPO_ROOT,
        timeout=1500,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    return result.stdout, tmp_path / name / "dagster_home"


def test_a_multiprocess_run_gives_the_in_process_totals_from_parallel_runs(tmp_path, monkeypatch):
    source = _two_months(tmp_path / "cur")
    serial, _ = _run(tmp_path, source, "serial", "in_process")
    parallel, home = _run(tmp_path, source, "parallel", "multiprocess")
    table = [line for line in parallel.splitlines() if line.startswith("2026-")]
    # September: 30 lines of 1.25; October: 31 lines of 2.50 (billed = effective: on-demand usage).
    assert table == [
        "2026-09-01     USD              30           37.50           37.50        0.00",
        "2026-10-01     USD              31           77.50           77.50        0.00",
    ]
    assert table == [line for line in serial.splitlines() if line.startswith("2026-")]
    monkeypatch.setenv("DAGSTER_HOME", str(home))
    with DagsterInstance.get() as instance:
        runs = instance.get_runs(filters=RunsFilter(tags={"mlcost/launched_by": "mlcost run"}))
        ranges = sorted(
            (
                r.job_name,
                r.tags["dagster/asset_partition_range_start"],
                r.tags["dagster/asset_partition_range_end"],
            )
            for r in runs
        )
        slots = instance.event_log_storage.get_concurrency_info(POOL).slot_count
    # One ingestion run per month, one daily run per month, cost_anomalies once over both, one reconciliation.
    assert ranges == [
        ("daily_tables", "2026-09-01", "2026-09-30"),
        ("daily_tables", "2026-09-01", "2026-10-31"),
        ("daily_tables", "2026-10-01", "2026-10-31"),
        ("ingest_billing", "2026-09-01", "2026-09-01"),
        ("ingest_billing", "2026-10-01", "2026-10-01"),
        ("monthly_reconciliation", "2026-09-01", "2026-10-01"),
    ]
    assert slots == 2  # the lake pool: MLCOST_MAX_WORKERS steps at once
