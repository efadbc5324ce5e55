"""GPU logs as fleets write them (issue 14): golden figures written as tables a person can check by hand.

Each input is written here in the shape the real tool or script writes it: nvidia-smi CSV (its own header and
script-written ones), a loop script's jittery 0.3 s log, DCGM exporter scrapes of MIG instances. The bill is a
small CUR of one-hour BoxUsage lines.
"""

from __future__ import annotations

import csv
import gzip
import random
import re
from datetime import date, datetime, timedelta
from pathlib import Path

import polars as pl
import pytest

from pipelines.attribution.compute import attribute
from pipelines.attribution.rules import load_rules
from pipelines.billing.ingest import ingest_deliveries
from pipelines.cli import main
from pipelines.errors import InputError
from pipelines.gpu.efficiency import compute_efficiency, publish_samples
from pipelines.gpu.samples import read_gpu_file, read_gpu_samples
from pipelines.orchestration.checks import check_rows
from pipelines.storage import lake
from tests.conftest import FileDelivery

GPU_DOC = Path(__file__).resolve().parents[1] / "docs" / "gpu.md"

DAY1, DAY2 = date(2026, 10, 1), date(2026, 10, 2)
TEN = datetime(2026, 10, 1, 10)  # every bill below starts at 10:00 UTC on Oct 1
CUR_HEADER = [
    "bill/BillingPeriodStartDate", "lineItem/UsageStartDate", "lineItem/UsageEndDate", "lineItem/LineItemType",
    "lineItem/ProductCode", "lineItem/UsageType", "lineItem/ResourceId", "lineItem/UsageAmount",
    "lineItem/UnblendedCost", "product/instanceType", "resourceTags/user:model", "resourceTags/user:workload-type",
]  # fmt: skip
NVSMI_HEADER = "timestamp, index, utilization.gpu [%]\n"


def _iso(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def _smi_time(moment: datetime) -> str:
    return moment.strftime("%Y/%m/%d %H:%M:%S.%f")[:-3]


def bill(tmp_path: Path, settings, con, hours: list[tuple[str, str, datetime]]) -> None:
    """One-hour BoxUsage lines: (resource, instance type, hour start)."""
    path = tmp_path / "cur.csv"
    with path.open("w", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(CUR_HEADER)
        for resource, instance_type, start in hours:
            writer.writerow(
                ["2026-10-01T00:00:00Z", _iso(start), _iso(start + timedelta(hours=1)), "Usage", "AmazonEC2",
                 f"BoxUsage:{instance_type}", resource, "1", "2.0", instance_type, "chat", "inference"]
            )  # fmt: skip
    ingest_deliveries(con, settings, [FileDelivery(files=(path,))])
    attribute(con, settings, load_rules(), DAY1, date(2026, 10, 31))


def efficiency(settings, con, logs: Path) -> dict[tuple[str, str], dict]:
    """gpu_efficiency_daily of the logs under ``logs``, keyed by (resource_id, day)."""
    result = read_gpu_samples(logs)
    assert result.rejected_files == {}
    publish_samples(con, settings, result, DAY1, DAY2)
    compute_efficiency(con, settings, DAY1, DAY2)
    lake.register_views(con, settings, ["gpu_efficiency_daily"])
    cur = con.execute("SELECT * FROM gpu_efficiency_daily")
    names = [d[0] for d in cur.description]
    return {(r[1], r[0].isoformat()): dict(zip(names, r, strict=True)) for r in cur.fetchall()}


def smi_log(path: Path, rows: list[tuple[datetime, int, int]]) -> Path:
    """An nvidia-smi --query-gpu=timestamp,index,utilization.gpu --format=csv log: (time, GPU, percent)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(NVSMI_HEADER + "".join(f"{_smi_time(t)}, {gpu}, {util} %\n" for t, gpu, util in rows))
    return path


# --- Bug 1: a ratio with no denominator is NULL (DuckDB's least(NULL, 1) is 1) ----------------------------

SM_ONE = "i-0a00000000000001a"
SM_TWO = "i-0a00000000000002a"


def test_eta_columns_are_null_without_their_denominator(tmp_path, settings, con):
    bill(
        tmp_path, settings, con, [(SM_ONE, "g5.xlarge", TEN), (SM_ONE, "g5.xlarge", TEN + timedelta(days=1))]
    )
    # nvidia-smi every 10 s, 10:00:10 .. 11:00:00 on Oct 1 at 40 %; nothing on Oct 2 (unobserved, not idle).
    smi_log(
        tmp_path / "logs" / SM_ONE / "gpu.csv",
        [(TEN + timedelta(seconds=10 * k), 0, 40) for k in range(1, 361)],
    )
    got = efficiency(settings, con, tmp_path / "logs")
    # resource, day        coverage  eta_observed  eta_allocated  eta_sm  eta
    expected = {
        (SM_ONE, "2026-10-01"): (1.0, 0.40, 0.40, None, 0.40),
        (SM_ONE, "2026-10-02"): (0.0, None, None, None, None),
    }
    for key, (coverage, eta_obs, eta_alloc, eta_sm, eta) in expected.items():
        row = got[key]
        assert row["coverage"] == pytest.approx(coverage, abs=1e-9), key
        assert row["eta_observed"] == (None if eta_obs is None else pytest.approx(eta_obs, abs=1e-9)), key
        assert row["eta_allocated"] == (None if eta_alloc is None else pytest.approx(eta_alloc, abs=1e-9)), (
            key
        )
        assert row["eta_sm"] is eta_sm, key  # no SM-activity metric in an nvidia-smi log: NULL, not 1.0
        assert row["eta"] == (None if eta is None else pytest.approx(eta, abs=1e-9)), key
    assert got[(SM_ONE, "2026-10-02")]["idle_cost"] is None


def test_eta_sm_comes_from_sm_active_where_the_log_has_it(tmp_path, settings, con):
    bill(tmp_path, settings, con, [(SM_TWO, "g5.xlarge", TEN)])
    lines = []
    for k in range(1, 121):  # DCGM scrapes every 30 s, 10:00:30 .. 11:00:00
        ms = int((TEN + timedelta(seconds=30 * k)).timestamp() * 1000)
        labels = 'gpu="0",UUID="GPU-sm",Hostname="node-sm"'
        lines.append(f"DCGM_FI_PROF_GR_ENGINE_ACTIVE{{{labels}}} 0.6 {ms}")
        lines.append(f"DCGM_FI_PROF_SM_ACTIVE{{{labels}}} 0.3 {ms}")
    (tmp_path / "logs" / SM_TWO).mkdir(parents=True)
    (tmp_path / "logs" / SM_TWO / "scrapes.prom").write_text("\n".join(lines) + "\n")
    row = efficiency(settings, con, tmp_path / "logs")[(SM_TWO, "2026-10-01")]
    assert (row["eta"], row["eta_sm"]) == (pytest.approx(0.6, abs=1e-9), pytest.approx(0.3, abs=1e-9))


# --- Bug 2: a log with more GPUs than the bill is compared before clipping ---------------------------------

EIGHT_ON_ONE = "i-0b00000000000001b"
EIGHTH_ON_ONE = "i-0b00000000000002b"


def test_an_8_gpu_log_on_a_1_gpu_instance_is_reported_not_clipped(tmp_path, settings, con):
    bill(tmp_path, settings, con, [(EIGHT_ON_ONE, "g5.xlarge", TEN), (EIGHTH_ON_ONE, "g5.xlarge", TEN)])
    # An 8-GPU host's log mapped to a 1-GPU g5.xlarge, samples every 10 s at 100 %:
    # EIGHT_ON_ONE for 15 min (10:00:10 .. 10:15:00), EIGHTH_ON_ONE for 7.5 min (10:00:10 .. 10:07:30).
    for resource, samples in ((EIGHT_ON_ONE, 90), (EIGHTH_ON_ONE, 45)):
        rows = [
            (TEN + timedelta(seconds=10 * k), gpu, 100) for k in range(1, samples + 1) for gpu in range(8)
        ]
        smi_log(tmp_path / "logs" / resource / "gpu.csv", rows)
    got = efficiency(settings, con, tmp_path / "logs")
    # resource        allocated observed active beyond coverage eta_observed eta_allocated gpus_in_log gpus_billed
    expected = {
        EIGHT_ON_ONE: (
            1.0,
            2.0,
            2.0,
            1.0,
            1.0,
            1.0,
            2.0,
            8,
            1,
        ),  # 8 GPUs × 900 s = 2 GPU-hours on a 1 GPU-hour bill
        EIGHTH_ON_ONE: (
            1.0,
            1.0,
            1.0,
            0.0,
            1.0,
            1.0,
            1.0,
            8,
            1,
        ),  # 8 × 450 s: 1.0 by accident, the count says it
    }
    columns = (
        "allocated_gpu_hours", "observed_gpu_hours", "active_gpu_hours", "observed_beyond_allocated_gpu_hours",
        "coverage", "eta_observed", "eta_allocated", "gpus_in_log", "gpus_billed",
    )  # fmt: skip
    for resource, figures in expected.items():
        row = got[(resource, "2026-10-01")]
        assert tuple(row[c] for c in columns) == pytest.approx(figures, abs=1e-9), resource
    # The blocking check tests the unclipped hours, so it fires on the log that claims 2 GPU-hours of 1.
    blocking = check_rows(con, "gpu_efficiency_daily", "eta_in_range_and_active_within_allocated", DAY1, DAY2)
    assert [(r["resource_id"], r["observed_gpu_hours"], r["allocated_gpu_hours"]) for r in blocking] == [
        (EIGHT_ON_ONE, pytest.approx(2.0), pytest.approx(1.0))
    ]
    # The warning names both: instance, day, GPUs seen in the log, GPUs billed, time beyond the bill.
    warning = check_rows(con, "gpu_efficiency_daily", "gpu_count_matches_bill", DAY1, DAY2)
    assert [
        (r["resource_id"], r["usage_date"], r["gpus_in_log"], r["gpus_billed"])
        + (round(r["observed_beyond_allocated_gpu_hours"], 9),)
        for r in warning
    ] == [(EIGHT_ON_ONE, DAY1, 8, 1, 1.0), (EIGHTH_ON_ONE, DAY1, 8, 1, 0.0)]


def test_a_log_of_all_the_billed_gpus_raises_no_warning(tmp_path, settings, con):
    bill(tmp_path, settings, con, [(EIGHT_ON_ONE, "g5.12xlarge", TEN)])
    rows = [(TEN + timedelta(seconds=10 * k), gpu, 50) for k in range(1, 361) for gpu in range(4)]
    smi_log(tmp_path / "logs" / EIGHT_ON_ONE / "gpu.csv", rows)
    row = efficiency(settings, con, tmp_path / "logs")[(EIGHT_ON_ONE, "2026-10-01")]
    assert (row["gpus_in_log"], row["gpus_billed"], row["coverage"]) == (4, 4, pytest.approx(1.0))
    assert check_rows(con, "gpu_efficiency_daily", "gpu_count_matches_bill", DAY1, DAY2) == []
    assert (
        check_rows(con, "gpu_efficiency_daily", "eta_in_range_and_active_within_allocated", DAY1, DAY2) == []
    )


# --- Bug 4: a loop script's jittery 0.3 s log is observed, not 4 % holes ------------------------------------

JITTER = "i-0c00000000000001c"


def _jittery_times(seed: int) -> list[datetime]:
    """`while true; do nvidia-smi --query-gpu=... ; sleep 0.3; done`: mostly 0.3 s apart, sometimes 0.2 s,
    sometimes late by up to 1.3 s (gaps 0.2-1.6 s), with millisecond timestamps like nvidia-smi's."""
    rng = random.Random(seed)
    t, times = TEN, [TEN]
    while True:
        r = rng.random()
        gap = (
            0.3 + rng.uniform(-0.004, 0.004)
            if r < 0.8
            else rng.uniform(0.2, 0.29)
            if r < 0.9
            else rng.uniform(0.45, 1.6)
        )
        t = t + timedelta(milliseconds=round(gap * 1000))
        if t > TEN + timedelta(hours=1):
            return times
        times.append(t)


def test_jittery_03s_log_eta_equals_an_independent_integration(tmp_path, settings, con):
    bill(tmp_path, settings, con, [(JITTER, "g5.xlarge", TEN)])
    times = _jittery_times(14)
    rng = random.Random(7)
    utils = [rng.randint(0, 100) for _ in times]
    smi_log(tmp_path / "logs" / JITTER / "gpu.csv", list(zip(times, [0] * len(times), utils, strict=True)))
    # Independent integration: utilization holds from each sample back to the one before it. The first sample is
    # at 10:00:00.000, the start of the billed hour: what it stands for lies before the bill and counts nothing.
    gaps = [(b - a).total_seconds() for a, b in zip(times, times[1:], strict=False)]
    assert min(gaps) >= 0.2 and max(gaps) <= 1.6 and sum(g > 0.31 for g in gaps) > 300  # the jitter is there
    observed = sum(gaps)
    active = sum(u / 100 * g for u, g in zip(utils[1:], gaps, strict=True))
    row = efficiency(settings, con, tmp_path / "logs")[(JITTER, "2026-10-01")]
    assert row["eta"] == pytest.approx(active / observed, abs=1e-6)
    assert row["observed_gpu_hours"] * 3600 == pytest.approx(observed, abs=1e-6)
    assert row["coverage"] == pytest.approx(observed / 3600, abs=1e-6)
    assert row["coverage"] > 0.999  # the old cap at the typical gap left about 4 % unobserved


def test_observed_gap_limit_is_6x_the_typical_spacing_and_2s_beyond_it(tmp_path):
    # A 0.3 s loop (typical 0.3 s: longest observed gap min(6 × 0.3, 0.3 + 2) = 1.8 s) and a 10 s loop
    # (min(60, 12) = 12 s). Gaps and the seconds each sample stands for:
    #   0.3 s loop: 0.3 0.3 0.3 1.6 0.3 0.3 1.9 0.3 0.3   -> 1.6 s is jitter (observed), 1.9 s a hole (0.3 s)
    #   10 s loop:  10 10 10 11.5 10 10 40 10 10          -> 11.5 s late scrape observed, 40 s a hole (10 s)
    for step, gaps, intervals in (
        (
            0.3,
            [0.3, 0.3, 0.3, 1.6, 0.3, 0.3, 1.9, 0.3, 0.3],
            [0.3, 0.3, 0.3, 0.3, 1.6, 0.3, 0.3, 0.3, 0.3, 0.3],
        ),
        (10, [10, 10, 10, 11.5, 10, 10, 40, 10, 10], [10, 10, 10, 10, 11.5, 10, 10, 10, 10, 10]),
    ):
        t, rows = TEN, [(TEN, 0, 50)]
        for gap in gaps:
            t += timedelta(milliseconds=round(gap * 1000))
            rows.append((t, 0, 50))
        path = smi_log(tmp_path / f"loop{step}.csv", rows)
        result = read_gpu_file(path, resource_map={path.name: JITTER})
        assert result.samples["interval_seconds"].to_list() == pytest.approx(intervals, abs=1e-9), step


# --- Bug 5: MIG instances of one GPU are devices of their own -------------------------------------------------

MIG_FULL = "i-0d00000000000001d"  # GPU 0 split 3g.20gb + 4g.20gb (all 7 slices)
MIG_PART = "i-0d00000000000002d"  # GPU 0 split 3g.20gb + 1g.5gb (4 of 7 slices)


def _mig_scrapes(instances: list[tuple[str, str, float]]) -> str:
    """DCGM exporter scrapes every 30 s (10:00:30 .. 11:00:00) of MIG instances (GPU_I_ID, profile, activity)."""
    lines = ["# HELP DCGM_FI_PROF_GR_ENGINE_ACTIVE Ratio of time the graphics engine is active.",
             "# TYPE DCGM_FI_PROF_GR_ENGINE_ACTIVE gauge"]  # fmt: skip
    for k in range(1, 121):
        ms = int((TEN + timedelta(seconds=30 * k)).timestamp() * 1000)
        for gi, profile, value in instances:
            lines.append(
                f'DCGM_FI_PROF_GR_ENGINE_ACTIVE{{gpu="0",UUID="GPU-6f1c0a1e-0000-4000-8000-00000000a100",'
                f'device="nvidia0",modelName="NVIDIA A100-SXM4-40GB",GPU_I_PROFILE="{profile}",GPU_I_ID="{gi}",'
                f'Hostname="dgx-1"}} {value} {ms}'
            )
    return "\n".join(lines) + "\n"


def test_mig_instances_are_weighted_by_their_slices(tmp_path, settings, con):
    bill(tmp_path, settings, con, [(MIG_FULL, "p4d.24xlarge", TEN), (MIG_PART, "p4d.24xlarge", TEN)])
    for resource, instances in (
        (MIG_FULL, [("1", "3g.20gb", 0.5), ("2", "4g.20gb", 0.25)]),
        (MIG_PART, [("1", "3g.20gb", 0.5), ("2", "1g.5gb", 0.25)]),
    ):
        (tmp_path / "logs" / resource).mkdir(parents=True)
        (tmp_path / "logs" / resource / "dcgm.prom").write_text(_mig_scrapes(instances))
    result = read_gpu_samples(tmp_path / "logs")
    assert result.duplicate_samples == 0
    shares = result.samples.group_by("resource_id", "mig_instance", "mig_profile").agg(
        pl.col("gpu_share").first(), pl.len()
    )
    assert sorted(shares.rows()) == [
        (MIG_FULL, "1", "3g.20gb", pytest.approx(3 / 7), 120),
        (MIG_FULL, "2", "4g.20gb", pytest.approx(4 / 7), 120),
        (MIG_PART, "1", "3g.20gb", pytest.approx(3 / 7), 120),
        (MIG_PART, "2", "1g.5gb", pytest.approx(1 / 7), 120),
    ]
    got = efficiency(settings, con, tmp_path / "logs")
    # One hour, 8 A100s billed, GPU 0 logged:
    #   MIG_FULL: observed 3/7 + 4/7 = 1 GPU-h; active 3/7 × 0.5 + 4/7 × 0.25 = 2.5/7 = 0.357142857 GPU-h
    #             η of the GPU = the weighted sum 0.357142857; eta_allocated = 0.357142857 / 8
    #   MIG_PART: observed 3/7 + 1/7 = 4/7 GPU-h (3 slices unused: unobserved); active 1.5/7 + 0.25/7 = 1.75/7
    #             eta_observed = 1.75 / 4 = 0.4375; eta_allocated = (1.75/7) / 8 = 0.03125
    expected = {
        MIG_FULL: (1.0, 2.5 / 7, 2.5 / 7, 2.5 / 7 / 8, 1),
        MIG_PART: (4 / 7, 1.75 / 7, 0.4375, 0.03125, 1),
    }
    for resource, (observed, active, eta, eta_alloc, gpus) in expected.items():
        row = got[(resource, "2026-10-01")]
        assert row["observed_gpu_hours"] == pytest.approx(observed, abs=1e-9), resource
        assert row["active_gpu_hours"] == pytest.approx(active, abs=1e-9), resource
        assert row["eta"] == pytest.approx(eta, abs=1e-9), resource
        assert row["eta_allocated"] == pytest.approx(eta_alloc, abs=1e-9), resource
        assert row["gpus_in_log"] == gpus, resource  # two MIG instances of one GPU are one GPU


def test_mig_sample_without_a_profile_is_skipped_and_counted(tmp_path):
    text = _mig_scrapes([("1", "3g.20gb", 0.5), ("2", "", 0.25)])
    path = tmp_path / MIG_FULL / "dcgm.prom"
    path.parent.mkdir()
    path.write_text(text)
    result = read_gpu_samples(tmp_path)
    assert result.skipped_lines == {str(path): 120}
    assert result.samples["mig_profile"].unique().to_list() == ["3g.20gb"]


# --- Headers written by scripts: one alias table, generated into docs/gpu.md ---------------------------------

ALIAS = "i-0e00000000000001e"
SCRIPT_ROWS = "2026/10/01 10:00:10.000, 0, 45, 87, 250.50\n2026/10/01 10:00:10.000, 1, 51, 12, 98.20\n"


@pytest.mark.parametrize(
    "header",
    [
        "timestamp,gpu_index,temperature_C,utilization_gpu_percent,power_W",  # the script
        "timestamp, index, temperature.gpu, utilization.gpu [%], power.draw [W]",  # nvidia-smi's own
        "time,gpu,temp_c,util,power_w",
        "ts,gpu_id,temperature,gpu_util,power",
        "Timestamp,GPU Index,Temperature (C),GPU Utilization (%),Power (W)",
        "datetime,gpu_idx,temperature_celsius,gpuUtil_pct,power_watts",
    ],
)
def test_script_written_headers_are_read(tmp_path, header):
    path = tmp_path / "gpu.csv"
    path.write_text(header + "\n" + SCRIPT_ROWS)
    samples = read_gpu_file(path, resource_map={"gpu.csv": ALIAS}).samples
    #            GPU  utilization
    expected = [(0, 0.87), (1, 0.12)]
    assert samples["gpu_index"].to_list() == [gpu for gpu, _ in expected]
    assert samples["value"].to_list() == pytest.approx([util for _, util in expected], abs=1e-12)


def test_unknown_utilization_header_lists_what_is_accepted(tmp_path):
    path = tmp_path / "gpu.csv"
    path.write_text("timestamp,gpu_index,busy_share\n2026/10/01 10:00:10.000, 0, 87\n")
    with pytest.raises(InputError) as err:
        read_gpu_file(path, resource_map={"gpu.csv": ALIAS})
    message = str(err.value)
    assert str(path) in message and "timestamp, gpu_index, busy_share" in message
    assert "utilization.gpu, gpu_util" in message and "docs/gpu.md" in message


def test_docs_gpu_md_equals_what_the_code_generates():
    from pipelines.gpu.gpu_doc import render_gpu_doc

    text = GPU_DOC.read_text()
    assert text == render_gpu_doc(text), "run `mlcost docs gpu` and commit docs/gpu.md"
    assert main(["docs", "gpu", "--check"]) == 0
    assert "| util | GPU utilization in percent (`utilization.gpu`) | `utilization.gpu`, `gpu_util`" in text
    assert "at most 6 × the series' typical spacing and at most 2 s longer than it" in text


# --- Logs that name no host: the worked example of docs/gpu.md -------------------------------------------------


def test_hostless_worked_example_of_the_docs(tmp_path):
    doc = GPU_DOC.read_text()
    hosts_csv = re.search(r"`gpu-logs/hosts.csv`:\n\n```csv\n(.*?)```", doc, re.S)[1]
    root = tmp_path / "gpu-logs"
    root.mkdir()
    (root / "hosts.csv").write_text(hosts_csv)
    sample = [(TEN + timedelta(seconds=10), 0, 50)]
    smi_log(root / "trainer-a.csv", sample)
    smi_log(root / "chat-7f9c4" / "nvidia-smi.csv", sample)
    smi_log(root / "i-0c3d5e7f9a1b2c4d6" / "gpu.csv", sample)
    (root / "embed.gpu0.csv.gz").write_bytes(gzip.compress((root / "trainer-a.csv").read_bytes()))
    result = read_gpu_samples(root)
    assert result.rejected_files == {}
    # file                              resource (as the docs' tree says)
    expected = {
        "trainer-a.csv": "i-0a1b2c3d4e5f60718",
        "chat-7f9c4/nvidia-smi.csv": "i-0f1e2d3c4b5a69788",
        "embed.gpu0.csv.gz": "i-0123456789abcdef0",
        "i-0c3d5e7f9a1b2c4d6/gpu.csv": "i-0c3d5e7f9a1b2c4d6",
    }
    got = {
        str(Path(f).relative_to(root)): r
        for f, r in result.samples.select("source_file", "resource_id").rows()
    }
    assert got == expected
    for name, resource in expected.items():
        assert f"{name.split('/')[0]}" in doc and resource in doc


def test_hostless_log_that_nothing_maps_is_rejected_naming_it(tmp_path):
    root = tmp_path / "gpu-logs"
    root.mkdir()
    (root / "hosts.csv").write_text("host,resource_id\ntrainer-a,i-0a1b2c3d4e5f60718\n")
    stray = smi_log(root / "stray.csv", [(TEN + timedelta(seconds=10), 0, 50)])
    result = read_gpu_samples(root)
    assert list(result.rejected_files) == [str(stray)]
    assert "cannot map its samples (no host in the file) to a resource" in result.rejected_files[str(stray)]


# --- least()/greatest() elsewhere in sql/: a missing bound is not stretched to the billing period's edge -------


def test_line_without_an_end_date_lands_whole_on_its_start_day(tmp_path, settings, con):
    # A CUR line whose lineItem/UsageEndDate is empty: least(NULL, period end) was the period end, and the line
    # was left out of the days to attribute. Expected: both lines on Oct 5, 10.00 + 1.00 = 11.00 USD.
    path = tmp_path / "cur.csv"
    path.write_text(
        ",".join(CUR_HEADER) + "\n"
        "2026-10-01T00:00:00Z,2026-10-05T10:00:00Z,,Usage,AmazonEC2,BoxUsage:g5.xlarge,i-0abc,1,10.0,g5.xlarge,"
        "chat,inference\n"
        "2026-10-01T00:00:00Z,2026-10-05T10:00:00Z,2026-10-05T11:00:00Z,Usage,AmazonEC2,BoxUsage:g5.xlarge,i-0abc,"
        "1,1.0,g5.xlarge,chat,inference\n"
    )
    ingest_deliveries(con, settings, [FileDelivery(files=(path,))])
    attribute(con, settings, load_rules(), DAY1, date(2026, 10, 31))
    lake.register_views(con, settings, ["cost_attribution"])
    days = con.execute(
        "SELECT usage_date, count(*), round(sum(effective_cost), 2) FROM cost_attribution GROUP BY 1 ORDER BY 1"
    ).fetchall()
    assert days == [(date(2026, 10, 5), 2, 11.0)]


# --- gpu_efficiency_by_device_daily: which GPUs of a host idle ------------------------------------------------

EIGHT = "i-0f00000000000001f"


def test_per_device_table_shows_which_gpus_idle_and_adds_up_to_the_instance(tmp_path, settings, con):
    from pipelines.gpu.efficiency import compute_device_efficiency

    bill(tmp_path, settings, con, [(EIGHT, "p4d.24xlarge", TEN), (MIG_FULL, "p4d.24xlarge", TEN)])
    # nvidia-smi every 10 s for the billed hour on an 8-GPU host: GPU g at (g × 10) %, GPUs 6 and 7 not logged
    # after 10:30 (half observed).
    rows = [
        (TEN + timedelta(seconds=10 * k), gpu, gpu * 10)
        for k in range(1, 361)
        for gpu in range(8)
        if gpu < 6 or k <= 180
    ]
    smi_log(tmp_path / "logs" / EIGHT / "gpu.csv", rows)
    (tmp_path / "logs" / MIG_FULL).mkdir(parents=True)
    (tmp_path / "logs" / MIG_FULL / "dcgm.prom").write_text(
        _mig_scrapes([("1", "3g.20gb", 0.5), ("2", "4g.20gb", 0.25)])
    )
    instance = efficiency(settings, con, tmp_path / "logs")
    compute_device_efficiency(con, settings, DAY1, DAY2)
    lake.register_views(con, settings, ["gpu_efficiency_by_device_daily"])
    got = con.execute(
        "SELECT resource_id, device, gpu_share, observed_gpu_hours, active_gpu_hours, eta "
        "FROM gpu_efficiency_by_device_daily ORDER BY resource_id, gpu_index, mig_instance"
    ).fetchall()
    # resource  device                     share  observed  active      eta
    expected = [
        (MIG_FULL, "dgx-1 gpu 0 mig 1 (3g.20gb)", 3 / 7, 3 / 7, 1.5 / 7, 0.5),
        (MIG_FULL, "dgx-1 gpu 0 mig 2 (4g.20gb)", 4 / 7, 4 / 7, 1 / 7, 0.25),
        (EIGHT, "gpu 0", 1.0, 1.0, 0.0, 0.0),
        (EIGHT, "gpu 1", 1.0, 1.0, 0.1, 0.1),
        (EIGHT, "gpu 2", 1.0, 1.0, 0.2, 0.2),
        (EIGHT, "gpu 3", 1.0, 1.0, 0.3, 0.3),
        (EIGHT, "gpu 4", 1.0, 1.0, 0.4, 0.4),
        (EIGHT, "gpu 5", 1.0, 1.0, 0.5, 0.5),
        (EIGHT, "gpu 6", 1.0, 0.5, 0.3, 0.6),
        (EIGHT, "gpu 7", 1.0, 0.5, 0.35, 0.7),
    ]
    assert [r[:2] for r in got] == [e[:2] for e in expected]
    for row, want in zip(got, expected, strict=True):
        assert row[2:] == pytest.approx(want[2:], abs=1e-9), row[:2]
    for resource in (EIGHT, MIG_FULL):
        mine = [r for r in got if r[0] == resource]
        assert sum(r[3] for r in mine) == pytest.approx(
            instance[(resource, "2026-10-01")]["observed_gpu_hours"]
        )
        assert sum(r[4] for r in mine) == pytest.approx(
            instance[(resource, "2026-10-01")]["active_gpu_hours"]
        )


# --- eta_power: power draw / power limit ----------------------------------------------------------------------

POWER_ONE = "i-0f00000000000002f"
POWER_TWO = "i-0f00000000000003f"


def test_eta_power_from_power_draw_and_limit(tmp_path, settings, con):
    bill(tmp_path, settings, con, [(POWER_ONE, "g5.xlarge", TEN), (POWER_TWO, "g5.xlarge", TEN)])
    # nvidia-smi --query-gpu=timestamp,index,name,utilization.gpu,power.draw,power.limit --format=csv, every 10 s:
    #   POWER_ONE: first half hour 240.00 W of a 300.00 W limit in the log (0.8), second half 60.00 W (0.2)
    #              -> eta_power = (0.8 + 0.2) / 2 = 0.5
    #   POWER_TWO: no limit column, model "NVIDIA A10G" -> 300 W from the reference table; 150.00 W -> 0.5 ...
    #              and 75.00 W in the second half (0.25) -> eta_power = 0.375
    one = ["timestamp, index, name, utilization.gpu [%], power.draw [W], power.limit [W]"]
    two = ["timestamp, index, name, utilization.gpu [%], power.draw [W]"]
    for k in range(1, 361):
        t = _smi_time(TEN + timedelta(seconds=10 * k))
        first_half = k <= 180
        one.append(f"{t}, 0, NVIDIA A10G, 100 %, {'240.00' if first_half else '60.00'} W, 300.00 W")
        two.append(f"{t}, 0, NVIDIA A10G, 100 %, {'150.00' if first_half else '75.00'} W")
    for resource, lines in ((POWER_ONE, one), (POWER_TWO, two)):
        (tmp_path / "logs" / resource).mkdir(parents=True)
        (tmp_path / "logs" / resource / "gpu.csv").write_text("\n".join(lines) + "\n")
    got = efficiency(settings, con, tmp_path / "logs")
    # resource   eta (utilization)  eta_power
    expected = {POWER_ONE: (1.0, 0.5), POWER_TWO: (1.0, 0.375)}
    for resource, (eta, eta_power) in expected.items():
        row = got[(resource, "2026-10-01")]
        assert (row["eta"], row["eta_power"]) == pytest.approx((eta, eta_power), abs=1e-9), resource


def test_eta_power_is_null_without_a_known_limit(tmp_path, settings, con):
    bill(tmp_path, settings, con, [(POWER_ONE, "g5.xlarge", TEN)])
    lines = ["timestamp, index, name, utilization.gpu [%], power.draw [W]"] + [
        f"{_smi_time(TEN + timedelta(seconds=10 * k))}, 0, Mystery GPU 9000, 50 %, 100.00 W"
        for k in range(1, 361)
    ]
    (tmp_path / "logs" / POWER_ONE).mkdir(parents=True)
    (tmp_path / "logs" / POWER_ONE / "gpu.csv").write_text("\n".join(lines) + "\n")
    row = efficiency(settings, con, tmp_path / "logs")[(POWER_ONE, "2026-10-01")]
    assert (row["eta"], row["eta_power"]) == (pytest.approx(0.5), None)


def test_dcgm_power_usage_is_divided_by_the_models_limit(tmp_path):
    # DCGM_FI_DEV_POWER_USAGE 280 W on an "NVIDIA A100-SXM4-40GB" (400 W in the reference table) -> 0.7.
    ms = int((TEN + timedelta(seconds=30)).timestamp() * 1000)
    labels = 'gpu="0",UUID="GPU-p",modelName="NVIDIA A100-SXM4-40GB",Hostname="h"'
    path = tmp_path / POWER_ONE / "dcgm.prom"
    path.parent.mkdir()
    path.write_text(
        f"DCGM_FI_DEV_GPU_UTIL{{{labels}}} 90 {ms}\nDCGM_FI_DEV_POWER_USAGE{{{labels}}} 280.0 {ms}\n"
    )
    samples = read_gpu_samples(tmp_path).samples
    assert sorted(samples.select("metric", "value").rows()) == [
        ("gpu_util", 0.9),
        ("power", pytest.approx(0.7)),
    ]
