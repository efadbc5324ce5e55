"""Bills of any age need no setting: the partitions start at the data (issues 15 and 20).

The legacy CUR month of 2018 used to stop with Dagster's "Partition key range start 2018-10-01 is before the
partitions definition start time 2026-01-01" unless MLCOST_PARTITION_START was set; a pinned start later than the
run is one line naming the setting; the definitions `make ui` loads start where the lake's data does, so the
daily assets show no "missing" partitions before it.
"""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import date
from pathlib import Path

import duckdb
import pytest
from dagster import AssetKey

from pipelines.config import Settings
from pipelines.errors import InputError
from pipelines.orchestration import partitions
from pipelines.orchestration.code_location import build_definitions
from pipelines.orchestration.partitions import EARLY_START, partition_start
from tests.conftest import REPO, realdata
from tests.test_operations import cur2_period


def _publish(settings: Settings, table: str, value: str) -> None:
    from pipelines.storage import lake

    path = lake.partition_path(settings, table, value)
    path.parent.mkdir(parents=True, exist_ok=True)
    duckdb.sql(f"COPY (SELECT 1 AS x) TO '{path}' (FORMAT parquet)")


def test_the_start_follows_the_lake_the_run_and_the_pinned_setting(tmp_path):
    settings = Settings(home=tmp_path / "home")
    # Nothing known: early enough for any bill.
    assert partition_start(settings) == EARLY_START == date(2000, 1, 1)
    assert partition_start(settings, run_months=["2018-10-01", "2018-11-01"]) == date(2018, 10, 1)
    _publish(settings, "line_items", "2024-03-01")
    _publish(settings, "line_items", "2025-01-01")
    assert partition_start(settings) == date(2024, 3, 1)
    assert partition_start(settings, run_months=["2026-10-01"]) == date(2024, 3, 1)
    assert partition_start(settings, run_months=["2019-02-01"]) == date(2019, 2, 1)

    pinned = Settings(home=tmp_path / "home", partition_start="2026-01")
    assert partition_start(pinned) == date(2026, 1, 1)  # pinned wins over the lake's 2024-03
    assert partition_start(pinned, run_months=["2026-02-01"]) == date(2026, 1, 1)
    with pytest.raises(InputError) as refused:
        partition_start(pinned, run_months=["2018-10-01"])
    assert str(refused.value) == (
        "MLCOST_PARTITION_START: 2026-01 is after billing period 2018-10 of this run: unset it (the partitions "
        "then start at the earliest billing period) or set it to 2018-10 or earlier"
    )


def test_the_start_follows_the_source_manifests_when_the_lake_is_empty(tmp_path):
    """The sensor of a fresh `make ui` must see the source's months inside the partitions."""
    cur2_period(tmp_path / "source", "2019-04", "exec-apr")  # as AWS lays out a CUR 2.0 export
    cur2_period(tmp_path / "source", "2019-05", "exec-may")
    settings = Settings(home=tmp_path / "home", cur_source=str(tmp_path / "source"))
    assert partition_start(settings) == EARLY_START  # without scanning: nothing known
    assert partition_start(settings, scan_source=True) == date(2019, 4, 1)


def test_the_definitions_have_no_partition_before_the_data(tmp_path):
    settings = Settings(home=tmp_path / "home")
    _publish(settings, "line_items", "2026-09-01")
    graph = build_definitions(settings).get_repository_def().asset_graph
    daily = graph.get(AssetKey("cost_attribution")).partitions_def
    monthly = graph.get(AssetKey("line_items")).partitions_def
    assert daily.get_first_partition_key() == "2026-09-01"
    assert monthly.get_first_partition_key() == "2026-09-01"
    # Every partitioned asset was moved off the placeholders; none is left starting in 2000.
    for key in graph.get_all_asset_keys():
        node = graph.get(key)
        if node.partitions_def is None:  # cost_report: one page over the whole warehouse
            continue
        assert node.partitions_def.get_first_partition_key() == "2026-09-01", key
        assert node.partitions_def not in (partitions.days, partitions.billing_periods), key


def _mlcost_run(tmp_path: Path, source: Path, **env: str) -> subprocess.CompletedProcess:
    environment = {k: v for k, v in os.environ.items() if not k.startswith(("MLCOST_", "DAGSTER_"))}
    environment.update(MLCOST_HOME=str(tmp_path / "home"), DAGSTER_HOME=str(tmp_path / "dagster"), **env)
    return subprocess.run(
        [sys.executable, "-m", "pipelines.cli", "run", "--cur-source", str(source)],
        capture_output=True, text=True, env=environment, cwd=REPO, timeout=900,
    )  # fmt: skip


def test_the_2018_legacy_cur_month_runs_with_no_partition_setting(tmp_path):
    source = realdata("cur1-parquet", "Oct2018-WorkshopCUR-00001.snappy.parquet")
    result = _mlcost_run(tmp_path, source)
    assert result.returncode == 0, result.stderr[-3000:]
    home = tmp_path / "home"
    con = duckdb.connect()
    lines, billed, effective = con.execute(
        "SELECT count(*), round(sum(billed_cost), 2), round(sum(effective_cost), 2) FROM read_parquet(?)",
        [str(home / "lake" / "line_items" / "*" / "data.parquet")],
    ).fetchone()
    attributed = con.execute(
        "SELECT round(sum(effective_cost), 2) FROM read_parquet(?)",
        [str(home / "lake" / "cost_attribution" / "*" / "data.parquet")],
    ).fetchone()[0]
    # The month as tests/test_attribution_realdata.py knows it: every line, attributed to the cent.
    assert (lines, billed, effective, attributed) == (119_307, 4064.48, 4195.96, 4195.96)
    days = sorted(p.parent.name for p in (home / "lake" / "cost_attribution").glob("*/data.parquet"))
    assert days[0] == "usage_date=2018-10-01" and days[-1] == "usage_date=2018-10-31"
    # `make ui` loads the definitions from the same MLCOST_HOME: they start with the data, October 2018.
    graph = build_definitions(Settings(home=home)).get_repository_def().asset_graph
    assert graph.get(AssetKey("cost_attribution")).partitions_def.get_first_partition_key() == "2018-10-01"

    pinned = _mlcost_run(tmp_path / "pinned", source, MLCOST_PARTITION_START="2026-01")
    assert pinned.returncode == 2
    assert pinned.stderr.splitlines() == [
        "mlcost: error: MLCOST_PARTITION_START: 2026-01 is after billing period 2018-10 of this run: unset it "
        "(the partitions then start at the earliest billing period) or set it to 2018-10 or earlier"
    ]
    assert not (tmp_path / "pinned" / "home" / "lake").exists()
