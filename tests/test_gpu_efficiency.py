"""GPU efficiency SQL: allocated time from the bill, samples cut at day and billed-hour boundaries."""

from __future__ import annotations

import csv
from datetime import date, datetime, timedelta

import polars as pl
import pytest

from pipelines.attribution.compute import attribute
from pipelines.attribution.rules import load_rules
from pipelines.billing.ingest import ingest_deliveries
from pipelines.gpu.efficiency import compute_efficiency, publish_samples
from pipelines.gpu.samples import SAMPLES_SCHEMA, GpuReadResult
from pipelines.storage import lake
from tests.conftest import FileDelivery

HEADER = [
    "bill/BillingPeriodStartDate", "lineItem/UsageStartDate", "lineItem/UsageEndDate", "lineItem/LineItemType",
    "lineItem/ProductCode", "lineItem/UsageType", "lineItem/ResourceId", "lineItem/UsageAmount",
    "lineItem/UnblendedCost", "product/instanceType", "resourceTags/user:model", "resourceTags/user:workload-type",
]  # fmt: skip
START = datetime(2026, 10, 1, 22)
HOURS = 4  # 22:00 on Oct 1 to 02:00 on Oct 2
RATE = 5.672  # g5.12xlarge, 4 GPUs


@pytest.fixture
def billed(tmp_path, settings, con):
    path = tmp_path / "cur.csv"
    with path.open("w", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(HEADER)
        for h in range(HOURS):
            s, e = START + timedelta(hours=h), START + timedelta(hours=h + 1)
            writer.writerow(
                ["2026-10-01T00:00:00Z", s.isoformat() + "Z", e.isoformat() + "Z", "Usage", "AmazonEC2",
                 "BoxUsage:g5.12xlarge", "i-0gpu", "1", str(RATE), "g5.12xlarge", "chat", "inference"]
            )  # fmt: skip
    ingest_deliveries(con, settings, [FileDelivery(files=(path,))])
    attribute(con, settings, load_rules(), date(2026, 10, 1), date(2026, 10, 31))
    return settings


def samples(rows, fmt="nvidia_smi"):
    """rows: (ts, gpu_index, metric, value, interval_seconds)."""
    return pl.DataFrame(
        {
            "ts": [r[0] for r in rows],
            "resource_id": ["i-0gpu"] * len(rows),
            "host": [None] * len(rows),
            "gpu_index": [r[1] for r in rows],
            "gpu_uuid": [None] * len(rows),
            "gpu_model": ["A10G"] * len(rows),
            "metric": [r[2] for r in rows],
            "value": [r[3] for r in rows],
            "interval_seconds": [float(r[4]) for r in rows],
            "source_file": ["test"] * len(rows),
            "source_format": [fmt] * len(rows),
            "mig_instance": [None] * len(rows),
            "mig_profile": [None] * len(rows),
            "gpu_share": [1.0] * len(rows),
            "namespace": [None] * len(rows),
            "pod": [None] * len(rows),
            "container": [None] * len(rows),
            "holders": [1] * len(rows),
        },
        schema=SAMPLES_SCHEMA,
    )


def efficiency(con, settings, frame):
    publish_samples(con, settings, GpuReadResult(samples=frame), date(2026, 10, 1), date(2026, 10, 2))
    compute_efficiency(con, settings, date(2026, 10, 1), date(2026, 10, 2))
    lake.register_views(con, settings, ["gpu_efficiency_daily"])
    rows = con.execute(
        "SELECT usage_date, allocated_gpu_hours, observed_gpu_hours, active_gpu_hours, eta, coverage, gpu_cost, "
        "idle_cost FROM gpu_efficiency_daily ORDER BY usage_date"
    ).fetchall()
    return {r[0].isoformat(): r[1:] for r in rows}


def test_allocated_hours_and_cost_come_from_the_bill(billed, con):
    got = efficiency(con, billed, samples([]))
    # Oct 1: 22:00-24:00 = 2 h × 4 GPUs; Oct 2: 00:00-02:00 likewise. No samples: unobserved, eta NULL.
    assert got["2026-10-01"][:2] == (pytest.approx(8.0), 0.0)
    assert got["2026-10-02"][0] == pytest.approx(8.0)
    assert got["2026-10-01"][3] is None and got["2026-10-01"][4] == 0
    assert got["2026-10-01"][5] == pytest.approx(2 * RATE)
    assert got["2026-10-01"][6] is None  # idle cost unknown, not zero, when nothing was observed


def test_interval_crossing_midnight_is_split_between_days(billed, con):
    got = efficiency(con, billed, samples([(datetime(2026, 10, 2, 0, 0, 30), 0, "gpu_util", 1.0, 60)]))
    assert got["2026-10-01"][1] * 3600 == pytest.approx(30)
    assert got["2026-10-02"][1] * 3600 == pytest.approx(30)
    assert got["2026-10-01"][2] * 3600 == pytest.approx(30)


def test_sample_ending_at_midnight_lands_in_one_day_only(billed, con):
    got = efficiency(con, billed, samples([(datetime(2026, 10, 2, 0, 0, 0), 0, "gpu_util", 0.5, 60)]))
    assert got["2026-10-01"][1] * 3600 == pytest.approx(60)
    assert got["2026-10-01"][2] * 3600 == pytest.approx(30)
    assert got["2026-10-02"][1] == 0


def test_samples_outside_billed_hours_count_for_nothing(billed, con):
    got = efficiency(con, billed, samples([(datetime(2026, 10, 1, 21, 30), 0, "gpu_util", 1.0, 60)]))
    assert got["2026-10-01"][1] == 0


def _duty_cycle(step_seconds: int):
    """Every GPU busy for the first 20 minutes of each billed hour, idle for the other 40."""
    rows = []
    for gpu in range(4):
        t = START + timedelta(seconds=step_seconds)
        while t <= START + timedelta(hours=HOURS):
            minute = ((t - timedelta(seconds=step_seconds)) - START).seconds // 60 % 60
            rows.append((t, gpu, "gpu_util", 1.0 if minute < 20 else 0.0, step_seconds))
            t += timedelta(seconds=step_seconds)
    return rows


def test_30s_and_1s_sampling_of_the_same_activity_give_the_same_eta(billed, con, settings):
    coarse = efficiency(con, billed, samples(_duty_cycle(30), fmt="dcgm_prometheus"))
    fine = efficiency(con, billed, samples(_duty_cycle(1)))
    for day in ("2026-10-01", "2026-10-02"):
        assert coarse[day][3] == pytest.approx(1 / 3, abs=1e-6)
        assert fine[day][3] == pytest.approx(coarse[day][3], abs=1e-6)
        assert fine[day][4] == pytest.approx(1.0, abs=1e-6)  # fully observed
        assert fine[day][6] == pytest.approx(2 * RATE * (1 - 1 / 3), abs=0.005)


def test_gr_engine_active_is_preferred_and_one_exporter_counts(billed, con):
    t = datetime(2026, 10, 1, 23, 0)
    frame = pl.concat(
        [
            samples(
                [(t, 0, "gpu_util", 1.0, 60), (t, 0, "gr_engine_active", 0.25, 60)], fmt="dcgm_prometheus"
            ),
            samples([(t, 0, "gpu_util", 0.9, 60)], fmt="nvidia_smi"),
        ]
    )
    got = efficiency(con, billed, frame)
    assert got["2026-10-01"][1] * 3600 == pytest.approx(60)  # one GPU-minute observed, not three
    assert got["2026-10-01"][3] == pytest.approx(0.25)


def test_coverage_check_names_the_most_unobserved_and_has_no_figure_without_billed_gpu_hours(settings):
    """sql/checks/gpu_efficiency_daily__coverage_above_threshold.sql, by hand:

    | day        | resource | allocated | observed |
    | 2026-10-01 | i-a      | 10        | 2        |  unobserved 8
    | 2026-10-01 | i-b      | 10        | 3        |  unobserved 7
    | 2026-10-02 | i-a      | 0         | 0        |  nothing billed: no coverage at all
    coverage of the 1st = 5 / 20 = 0.25 < 0.5: one row naming i-a (8 GPU h), then i-b (7 GPU h).
    The 2nd alone: no billed GPU hours, coverage NULL (not 0): no warning.
    """
    from datetime import date

    from pipelines.gpu.assets import describe_coverage
    from pipelines.orchestration.checks import check_rows
    from pipelines.storage import lake
    from pipelines.storage.tables import TABLES

    con = lake.connect(settings)
    con.execute(f"CREATE TABLE gpu_efficiency_daily ({TABLES['gpu_efficiency_daily'].empty_columns()})")
    con.execute(
        "INSERT INTO gpu_efficiency_daily (usage_date, resource_id, allocated_gpu_hours, observed_gpu_hours) VALUES "
        "(DATE '2026-10-01', 'i-a', 10, 2), (DATE '2026-10-01', 'i-b', 10, 3), (DATE '2026-10-02', 'i-a', 0, 0)"
    )
    first, second = date(2026, 10, 1), date(2026, 10, 2)
    (row,) = check_rows(
        con, "gpu_efficiency_daily", "coverage_above_threshold", first, first, min_coverage=0.5
    )
    assert row["coverage"] == 0.25 and row["allocated_gpu_hours"] == 20
    assert [(u["resource_id"], u["gpu_hours"]) for u in row["most_unobserved"]] == [
        ("i-a", 8.0),
        ("i-b", 7.0),
    ]
    assert describe_coverage([row]) == (
        "2026-10-01 … 2026-10-01: 25.0% of 20.00 billed GPU hours had utilization samples, below 50%; "
        "most unobserved: i-a 8.00 GPU h; i-b 7.00 GPU h"
    )
    assert (
        check_rows(con, "gpu_efficiency_daily", "coverage_above_threshold", second, second, min_coverage=0.5)
        == []
    )
    assert (
        check_rows(con, "gpu_efficiency_daily", "coverage_above_threshold", first, first, min_coverage=0.2)
        == []
    )
