"""The model company generator: deterministic, its billing flavours agree, its answers match its files."""

from __future__ import annotations

import gzip
import io
import json
import math
from pathlib import Path

import numpy as np
import polars as pl
import pyarrow.parquet as pq
import pytest

from fixtures.model_company import generate, generate_scaled_month
from fixtures.model_company.answers import spread_by_day
from fixtures.model_company.periods import parse_month

MONTHS = ("2026-09", "2026-10")
# RI: 1-year partial upfront p4d.24xlarge, $6.73/h amortized upfront, bought 2026-09-01.
UPFRONT = 6.73 * 8760  # 58,954.80 paid in September
AMORTIZED = {"2026-09": 6.73 * 720, "2026-10": 6.73 * 744}  # 4,845.60 and 5,007.12


@pytest.fixture(scope="module")
def fixture_dir(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("company")
    generate(out, seed=42, months=MONTHS)
    return out


@pytest.fixture(scope="module")
def answers(fixture_dir) -> dict:
    return json.loads((fixture_dir / "answers.json").read_text())


def _effective(
    kind,
    unblended,
    sp_effective,
    sp_total,
    sp_used,
    ri_effective,
    ri_unused_upfront,
    ri_unused_recurring,
    ri_arn,
):
    """BILLING.md's amortization table, first match wins, written independently of the generator."""
    return np.select(
        [
            kind == "SavingsPlanCoveredUsage",
            kind == "SavingsPlanNegation",
            kind == "SavingsPlanRecurringFee",
            kind == "SavingsPlanUpfrontFee",
            kind == "DiscountedUsage",
            kind == "RIFee",
            (kind == "Fee") & (ri_arn != ""),
        ],
        [
            sp_effective,
            0.0,
            sp_total - sp_used,
            0.0,
            ri_effective,
            ri_unused_upfront + ri_unused_recurring,
            0.0,
        ],
        unblended,
    )


def _cur2(paths: list[Path]) -> pl.DataFrame:
    return pl.concat([pl.from_arrow(pq.read_table(p)) for p in paths])


def _cur2_month(root: Path, month: str) -> pl.DataFrame:
    manifest = json.loads(
        (
            root / "mlcost-cur2" / "metadata" / f"BILLING_PERIOD={month}" / "mlcost-cur2-Manifest.json"
        ).read_text()
    )
    # dataFiles name s3://mlcost-billing/cur2/<export>/...: map onto the local export root.
    paths = [root / uri.split("/cur2/", 1)[1] for uri in manifest["dataFiles"]]
    return _cur2(paths)


def _cur2_totals(frame: pl.DataFrame) -> tuple[int, float, float]:
    col = {c: frame[c].to_numpy() for c in frame.columns if frame[c].dtype in (pl.Float64, pl.String)}
    effective = _effective(
        col["line_item_line_item_type"],
        col["line_item_unblended_cost"],
        col["savings_plan_savings_plan_effective_cost"],
        col["savings_plan_total_commitment_to_date"],
        col["savings_plan_used_commitment"],
        col["reservation_effective_cost"],
        col["reservation_unused_amortized_upfront_fee_for_billing_period"],
        col["reservation_unused_recurring_fee"],
        col["reservation_reservation_a_r_n"],
    )
    return frame.height, math.fsum(col["line_item_unblended_cost"]), math.fsum(effective)


def _cur1_month(root: Path, month: str) -> pl.DataFrame:
    period = parse_month(month)
    folder = f"{period.start_dt:%Y%m%d}-{period.end_dt:%Y%m%d}"
    manifest = json.loads((root / "mlcost-cur1" / folder / "mlcost-cur1-Manifest.json").read_text())
    (key,) = manifest["reportKeys"]
    data = gzip.decompress((root.parent / key).read_bytes())
    frame = pl.read_csv(io.BytesIO(data), infer_schema=False)
    header = [f"{c['category']}/{c['name']}" for c in manifest["columns"]]
    assert frame.columns == header
    return frame


def _num(frame: pl.DataFrame, column: str) -> np.ndarray:
    return frame[column].replace("", None).cast(pl.Float64).fill_null(0.0).to_numpy()


def _cur1_totals(frame: pl.DataFrame) -> tuple[int, float, float]:
    billed = _num(frame, "lineItem/UnblendedCost")
    effective = _effective(
        frame["lineItem/LineItemType"].to_numpy(),
        billed,
        _num(frame, "savingsPlan/SavingsPlanEffectiveCost"),
        _num(frame, "savingsPlan/TotalCommitmentToDate"),
        _num(frame, "savingsPlan/UsedCommitment"),
        _num(frame, "reservation/EffectiveCost"),
        _num(frame, "reservation/UnusedAmortizedUpfrontFeeForBillingPeriod"),
        _num(frame, "reservation/UnusedRecurringFee"),
        frame["reservation/ReservationARN"].fill_null("").to_numpy(),
    )
    return frame.height, math.fsum(billed), math.fsum(effective)


def _focus_totals(path: Path) -> tuple[int, float, float]:
    frame = pl.read_csv(path, infer_schema=False)
    assert len(frame.columns) == 57 + 5
    return frame.height, math.fsum(_num(frame, "BilledCost")), math.fsum(_num(frame, "EffectiveCost"))


def test_same_seed_gives_byte_identical_output(fixture_dir, tmp_path):
    again = tmp_path / "again"
    generate(again, seed=42, months=MONTHS)
    assert (again / "answers.json").read_bytes() == (fixture_dir / "answers.json").read_bytes()
    for relative in [
        "answers_daily.csv",
        "cur2/mlcost-cur2/data/BILLING_PERIOD=2026-10/mlcost-cur2-00001.snappy.parquet",
        "focus/focus-2026-09.csv",
        "predictions/counts/text-embedder.csv",
    ]:
        assert (again / relative).read_bytes() == (fixture_dir / relative).read_bytes(), relative
    cur1 = sorted(p.relative_to(again) for p in (again / "cur1").rglob("*.csv.gz"))
    assert cur1 == sorted(p.relative_to(fixture_dir) for p in (fixture_dir / "cur1").rglob("*.csv.gz"))
    assert all((again / p).read_bytes() == (fixture_dir / p).read_bytes() for p in cur1)


def test_another_seed_gives_other_numbers(answers, tmp_path):
    other = generate(tmp_path / "other", seed=43, months=MONTHS, gpu_logs=False, predictions=False)
    assert (
        other["billing_periods"]["2026-10"]["cur2"]["billed_cost"]
        != answers["billing_periods"]["2026-10"]["cur2"]["billed_cost"]
    )


@pytest.mark.parametrize("month", MONTHS)
def test_three_flavours_agree_with_each_other_and_the_answers(fixture_dir, answers, month):
    expected = answers["billing_periods"][month]
    cur2 = _cur2_totals(_cur2_month(fixture_dir / "cur2", month))
    cur1 = _cur1_totals(_cur1_month(fixture_dir / "cur1", month))
    focus = _focus_totals(fixture_dir / "focus" / f"focus-{month}.csv")
    for name, (lines, billed, effective) in {"cur2": cur2, "cur1": cur1, "focus": focus}.items():
        assert lines == expected[name]["lines"], name
        assert billed == pytest.approx(expected[name]["billed_cost"], abs=1e-6), name
        assert effective == pytest.approx(expected[name]["effective_cost"], abs=1e-6), name
        assert expected[name]["currency"] == "USD"
    for other in (cur1, focus):
        assert other[1] == pytest.approx(cur2[1], abs=1e-6)
        assert other[2] == pytest.approx(cur2[2], abs=1e-6)
    # FOCUS drops the Savings Plan negations and nothing else.
    negations = _cur2_month(fixture_dir / "cur2", month).filter(
        pl.col("line_item_line_item_type") == "SavingsPlanNegation"
    )
    assert focus[0] == cur2[0] - negations.height > 0


@pytest.mark.parametrize("month", MONTHS)
def test_effective_minus_billed_is_amortized_minus_paid_upfront(fixture_dir, answers, month):
    _, billed, effective = _cur2_totals(_cur2_month(fixture_dir / "cur2", month))
    paid = UPFRONT if month == "2026-09" else 0.0
    assert effective - billed == pytest.approx(AMORTIZED[month] - paid, abs=1e-6)
    period = answers["billing_periods"][month]
    assert period["amortized_upfront_fee"] == pytest.approx(AMORTIZED[month], abs=1e-9)
    assert period["upfront_fee_paid"] == pytest.approx(paid, abs=1e-9)


def test_daily_answers_add_up_to_each_period(fixture_dir, answers):
    daily = pl.DataFrame(answers["daily"]).with_columns(pl.col("usage_date").str.slice(0, 7).alias("month"))
    sums = daily.group_by("month").agg(pl.col("billed_cost").sum(), pl.col("effective_cost").sum())
    for month, billed, effective in sums.iter_rows():
        expected = answers["billing_periods"][month]["cur2"]
        assert billed == pytest.approx(expected["billed_cost"], abs=1e-5)
        assert effective == pytest.approx(expected["effective_cost"], abs=1e-5)
    assert set(daily["category"]) == {"training", "inference", "storage", "egress", "other", "shared"}
    # The refund for September, delivered in October, lands on October 1st.
    first = daily.filter((pl.col("usage_date") == "2026-10-01") & (pl.col("category") == "shared"))
    second = daily.filter((pl.col("usage_date") == "2026-10-02") & (pl.col("category") == "shared"))
    assert first["billed_cost"].item() - second["billed_cost"].item() == pytest.approx(-842.4, abs=1e-6)
    # answers_daily.csv holds the same rows.
    csv = pl.read_csv(fixture_dir / "answers_daily.csv")
    assert csv.columns == ["usage_date", "category", "workload", "billed_cost", "effective_cost"]
    assert csv.height == daily.height
    assert csv["effective_cost"].sum() == pytest.approx(daily["effective_cost"].sum(), abs=1e-6)


def test_day_rule_spreads_by_seconds_and_sends_outside_lines_to_the_first_day():
    october = parse_month("2026-10")
    day = 86400
    charges = pl.DataFrame(
        {
            "billing_period": ["2026-10"] * 3,
            # 1: Sep 30 12:00 to Oct 2 12:00; 2: wholly in September; 3: the whole of October.
            "start": [october.start - day // 2, october.start - 20 * day, october.start],
            "end": [october.start + day + day // 2, october.start - 19 * day, october.end],
            "category": ["training", "shared", "shared"],
            "workload": ["m", "unattributed", "unattributed"],
            "billed": [36.0, -5.0, 31.0],
            "effective": [72.0, -5.0, 62.0],
        }
    )
    spread = (
        spread_by_day(charges, {"2026-10": october})
        .group_by("usage_date", "category")
        .agg(pl.col("billed_cost").sum(), pl.col("effective_cost").sum())
    )
    rows = {(str(d), c): (b, e) for d, c, b, e in spread.iter_rows()}
    # Line 1: its part inside October, [Oct 1, Oct 2 12:00), is 36 h: 24 h on the 1st and 12 h on the 2nd
    # share all of its cost; the 12 h in September fall outside the billing period.
    assert rows[("2026-10-01", "training")] == pytest.approx((24.0, 48.0))
    assert rows[("2026-10-02", "training")] == pytest.approx((12.0, 24.0))
    # Line 2 lies wholly in September: all of it on October 1st. Line 3: 1/31 a day.
    assert rows[("2026-10-01", "shared")] == pytest.approx((-5.0 + 1.0, -5.0 + 2.0))
    assert rows[("2026-10-31", "shared")] == pytest.approx((1.0, 2.0))
    assert len(rows) == 2 + 31


def test_planted_truth_of_untagged_and_sagemaker_resources(fixture_dir, answers):
    by_key = {r["key"]: r for r in answers["resources"]}
    assert (by_key["infer-g5-untagged"]["category"], by_key["infer-g5-untagged"]["workload"]) == (
        "other",
        "unattributed",
    )
    churn = by_key["endpoint-churn-predictor-v2"]
    assert churn["resource_id"] == "arn:aws:sagemaker:us-east-1:222222222222:endpoint/churn-predictor-v2"
    assert (churn["category"], churn["workload"], churn["tags"]) == ("inference", "churn-predictor-v2", {})
    sweep = by_key["job-resnet-sweep"]
    assert sweep["resource_id"].endswith(":training-job/ResNet-Sweep-07")
    assert (sweep["category"], sweep["workload"]) == ("training", "resnet-sweep-07")
    assert by_key["train-g5-spot"]["workload"] == "vision"  # no model tag: falls back to the team
    cur2 = _cur2_month(fixture_dir / "cur2", "2026-10")
    untagged = cur2.filter(pl.col("line_item_resource_id") == by_key["infer-g5-untagged"]["resource_id"])
    assert untagged["resource_tags"].list.len().max() == 0
    usage_types = set(cur2["line_item_usage_type"])
    assert {
        "BoxUsage:p4d.24xlarge",
        "USW2-SpotUsage:g5.48xlarge",
        "USE1-Train:ml.p4d.24xlarge",
        "USE1-Host:ml.g5.2xlarge",
        "USE1-Notebk:ml.t3.medium",
        "TimedStorage-ByteHrs",
        "EBS:VolumeUsage.gp3",
        "EBS:SnapshotUsage",
        "DataTransfer-Out-Bytes",
        "USE1-USW2-AWS-Out-Bytes",
        "DataTransfer-Regional-Bytes",
        "NatGateway-Bytes",
        "USW2-BoxUsage:c6i.4xlarge",
    } <= usage_types
    assert not any(u.startswith("USE1-BoxUsage") for u in usage_types)
    transfer = cur2.filter(pl.col("product_product_family") == "Data Transfer")
    assert set(transfer["line_item_product_code"]) == {"AmazonEC2", "AmazonS3"}
    kinds = set(cur2["line_item_line_item_type"])
    assert kinds == {
        "Usage",
        "DiscountedUsage",
        "SavingsPlanCoveredUsage",
        "SavingsPlanNegation",
        "SavingsPlanRecurringFee",
        "RIFee",
        "Fee",
        "Credit",
        "Refund",
        "Tax",
    }
    gpus = cur2.filter(pl.col("line_item_usage_type") == "BoxUsage:p5.48xlarge")["product"].list.eval(
        pl.element().filter(pl.element().struct.field("key") == "gpu").struct.field("value")
    )
    assert set(gpus.explode(empty_as_null=True)) == {"8"}


def test_restatement_steps_differ_as_planted(fixture_dir, answers):
    planted = answers["restatement"]
    root1, root2 = fixture_dir / "restatement" / "step1", fixture_dir / "restatement" / "step2"
    manifests = [
        json.loads((r / "mlcost-cur2/metadata/BILLING_PERIOD=2026-10/mlcost-cur2-Manifest.json").read_text())
        for r in (root1, root2)
    ]
    assert manifests[0]["executionId"] == planted["step1"]["execution_id"]
    assert manifests[1]["executionId"] == planted["step2"]["execution_id"] != planted["step1"]["execution_id"]
    step1, step2 = _cur2_month(root1, "2026-10"), _cur2_month(root2, "2026-10")
    for frame, expected in ((step1, planted["step1"]), (step2, planted["step2"])):
        lines, billed, effective = _cur2_totals(frame)
        assert (lines, billed, effective) == (
            expected["lines"],
            pytest.approx(expected["billed_cost"], abs=1e-6),
            pytest.approx(expected["effective_cost"], abs=1e-6),
        )
    assert planted["step2"]["billed_cost"] == answers["billing_periods"]["2026-10"]["cur2"]["billed_cost"]
    assert step1["line_item_usage_start_date"].max() < step1["line_item_usage_start_date"].min().replace(
        day=11
    )
    assert len(planted["corrections"]) == 6
    for fix in planted["corrections"]:
        key = (
            (pl.col("line_item_resource_id") == fix["resource_id"])
            & (pl.col("line_item_usage_type") == fix["usage_type"])
            & (pl.col("identity_time_interval").str.starts_with(fix["charge_period_start"]))
        )
        assert step1.filter(key)["line_item_usage_amount"].to_list() == [fix["step1_usage_amount"]]
        assert step2.filter(key)["line_item_usage_amount"].to_list() == [fix["step2_usage_amount"]]
        assert fix["step1_usage_amount"] < fix["step2_usage_amount"]
    refunds = [
        f.filter(pl.col("line_item_line_item_type") == "Refund")["line_item_unblended_cost"].to_list()
        for f in (step1, step2)
    ]
    assert refunds == [[], [-842.4]]
    assert planted["added_refund"][0]["charge_period_start"] == "2026-09-14T00:00:00Z"


def test_cur1_keeps_a_stale_assembly_the_manifest_no_longer_names(fixture_dir, answers):
    folder = fixture_dir / "cur1" / "mlcost-cur1" / "20260901-20261001"
    assemblies = sorted(p.name for p in folder.iterdir() if p.is_dir())
    current = answers["billing_periods"]["2026-09"]["cur1"]["assembly_id"]
    assert len(assemblies) == 2 and current in assemblies
    (stale,) = set(assemblies) - {current}
    stale_rows = pl.read_csv(
        io.BytesIO(gzip.decompress((folder / stale / "mlcost-cur1-1.csv.gz").read_bytes())),
        infer_schema=False,
    )
    assert 0 < stale_rows.height < answers["billing_periods"]["2026-09"]["cur1"]["lines"]
    # Legacy CUR columns come and go: the October report has a column September's lacks.
    assert "product/gpuMemory" in _cur1_month(fixture_dir / "cur1", "2026-10").columns
    assert "product/gpuMemory" not in _cur1_month(fixture_dir / "cur1", "2026-09").columns


def _billed_hours(fixture_dir: Path, resource_id: str) -> set[int]:
    frames = [_cur2_month(fixture_dir / "cur2", m) for m in MONTHS]
    usage = pl.concat(frames).filter(
        (pl.col("line_item_resource_id") == resource_id)
        & pl.col("line_item_line_item_type").is_in(["Usage", "DiscountedUsage", "SavingsPlanCoveredUsage"])
        & (pl.col("product_product_family") == "Compute Instance")
    )
    return set((usage["line_item_usage_start_date"].dt.epoch("s") // 3600).to_list())


def _observed(
    times: np.ndarray, values: np.ndarray, interval: int, billed: set[int]
) -> dict[str, tuple[float, float]]:
    keep = np.array([(t - interval) // 3600 in billed for t in times.tolist()], dtype=bool)
    days = ((times[keep] - interval) // 86400).astype("datetime64[D]").astype(str)
    out: dict[str, list[float]] = {}
    for day, value in zip(days.tolist(), values[keep].tolist(), strict=True):
        acc = out.setdefault(day, [0.0, 0.0])
        acc[0] += interval / 3600
        acc[1] += value * interval / 3600
    return {d: (o, a) for d, (o, a) in out.items()}


def test_gpu_answers_match_the_logs(fixture_dir, answers):
    by_key = {r["key"]: r for r in answers["resources"]}
    gpu = pl.DataFrame(answers["gpu"], infer_schema_length=None)
    # DCGM host with both metrics: GR_ENGINE_ACTIVE counts, GPU_UTIL does not; stray scrapes outside billed
    # hours are clipped.
    host = by_key["train-p4d-ri"]
    text = "".join(
        p.read_text() for p in sorted((fixture_dir / "gpu" / "dcgm" / host["hostname"]).glob("*.prom"))
    )
    rows = [
        line.rsplit(" ", 2) for line in text.splitlines() if line.startswith("DCGM_FI_PROF_GR_ENGINE_ACTIVE{")
    ]
    times = np.array([int(r[2]) // 1000 for r in rows])
    values = np.array([float(r[1]) for r in rows])
    billed = _billed_hours(fixture_dir, host["resource_id"])
    assert not all((t - 60) // 3600 in billed for t in times.tolist())  # strays are there to be clipped
    expected = _observed(times, values, 60, billed)
    mine = gpu.filter(pl.col("resource_id") == host["resource_id"])
    for day, (observed, active) in expected.items():
        row = mine.filter(pl.col("usage_date") == day).row(0, named=True)
        assert row["observed_gpu_hours"] == pytest.approx(observed, abs=1e-6)
        assert row["active_gpu_hours"] == pytest.approx(active, abs=1e-6)
        assert row["coverage"] == pytest.approx(1.0)
        assert row["eta"] == pytest.approx(active / observed, abs=1e-6)
        assert row["idle_cost"] == pytest.approx(row["gpu_cost"] * (1 - row["eta"]), abs=1e-6)
    # nvidia-smi with half its samples missing: coverage about 0.5.
    half = by_key["infer-g6-embed-2"]
    smi = pl.read_csv(fixture_dir / "gpu" / "nvidia-smi" / half["resource_id"] / "gpu.csv")
    stamps = (
        smi["timestamp"].str.to_datetime("%Y/%m/%d %H:%M:%S%.3f", time_zone="UTC").dt.epoch("s").to_numpy()
    )
    util = (
        smi[" utilization.gpu [%]"].str.strip_chars().str.strip_suffix(" %").cast(pl.Float64).to_numpy() / 100
    )
    expected = _observed(stamps, util, 10, _billed_hours(fixture_dir, half["resource_id"]))
    mine = gpu.filter(pl.col("resource_id") == half["resource_id"])
    for day, (observed, active) in expected.items():
        row = mine.filter(pl.col("usage_date") == day).row(0, named=True)
        assert row["observed_gpu_hours"] == pytest.approx(observed, abs=1e-6)
        assert row["active_gpu_hours"] == pytest.approx(active, abs=1e-6)
        assert 0.45 < row["coverage"] < 0.55
    # The instance with no logs, and any day before the last seven: unobserved, not idle.
    silent = gpu.filter(pl.col("resource_id") == by_key["infer-g6-embed-3"]["resource_id"])
    assert silent["coverage"].max() == 0 and silent["eta"].null_count() == silent.height
    assert gpu.filter(pl.col("usage_date") < "2026-10-25")["observed_gpu_hours"].max() == 0
    assert gpu.filter(pl.col("usage_date") >= "2026-10-25")["observed_gpu_hours"].max() > 0


def test_predictions_match_the_files(fixture_dir, answers):
    planted = pl.DataFrame(answers["predictions"])
    csv = pl.concat(
        [pl.read_csv(p) for p in sorted((fixture_dir / "predictions" / "sagemaker-csv").glob("*.csv"))]
    )
    by_day = (
        csv.with_columns(pl.col("timestamp").str.slice(0, 10).alias("usage_date"))
        .group_by("usage_date", "endpoint_name")
        .agg(
            (pl.col("Invocations") - pl.col("Invocation4XXErrors") - pl.col("Invocation5XXErrors"))
            .sum()
            .alias("ok"),
            (pl.col("Invocation4XXErrors") + pl.col("Invocation5XXErrors")).sum().alias("failed"),
        )
    )
    joined = by_day.join(
        planted, left_on=["usage_date", "endpoint_name"], right_on=["usage_date", "endpoint"]
    )
    assert joined.height == by_day.height == 61 * 3
    assert (joined["ok"] == joined["predictions"]).all() and (joined["failed"] == joined["failures"]).all()
    # The JSON holds the same numbers, newest first.
    payload = json.loads(
        (fixture_dir / "predictions" / "sagemaker-getmetricdata" / "metrics-2026-10.json").read_text()
    )
    series = {r["Label"]: r for r in payload["MetricDataResults"]}
    inv = series["Churn-Predictor-V2 AllTraffic Invocations"]
    assert inv["Timestamps"][0] > inv["Timestamps"][-1]
    assert (
        sum(inv["Values"])
        == csv.filter(
            (pl.col("endpoint_name") == "Churn-Predictor-V2") & pl.col("timestamp").str.starts_with("2026-10")
        )["Invocations"].sum()
    )
    # The failing day, and the lower-cased workload of the untagged endpoint.
    churn = planted.filter(pl.col("endpoint") == "Churn-Predictor-V2")
    worst = churn.sort("failures", descending=True).row(0, named=True)
    assert (worst["usage_date"], worst["workload"]) == ("2026-10-14", "churn-predictor-v2")
    assert worst["failures"] > 10 * churn.filter(pl.col("usage_date") != "2026-10-14")["failures"].max()
    # Request logs: one JSON line per request, failures are statuses >= 400.
    lines = (
        (fixture_dir / "predictions" / "request-logs" / "image-tagger" / "2026-10-03.jsonl")
        .read_text()
        .splitlines()
    )
    statuses = [json.loads(line)["status"] for line in lines]
    row = planted.filter((pl.col("workload") == "image-tagger") & (pl.col("usage_date") == "2026-10-03")).row(
        0, named=True
    )
    assert (row["predictions"], row["failures"]) == (
        sum(s < 400 for s in statuses),
        sum(s >= 400 for s in statuses),
    )
    counts = pl.read_csv(fixture_dir / "predictions" / "counts" / "text-embedder.csv")
    assert counts["count"].sum() == planted.filter(pl.col("workload") == "text-embedder")["predictions"].sum()


def test_scaled_month_has_the_rows_and_totals_it_claims(tmp_path):
    planted = generate_scaled_month(tmp_path, lines=50_000, month="2026-10", seed=7)["billing_periods"][
        "2026-10"
    ]["cur2"]
    frame = _cur2([tmp_path / f for f in planted["files"]])
    lines, billed, effective = _cur2_totals(frame)
    assert lines == planted["lines"] == 50_000
    assert billed == pytest.approx(planted["billed_cost"], abs=1e-6)
    assert effective == pytest.approx(planted["effective_cost"], abs=1e-6)
    assert effective != pytest.approx(billed)
    assert frame["identity_line_item_id"].n_unique() == 50_000
    main = pq.read_schema(next((tmp_path / "cur2").rglob("*.parquet")))
    assert "resource_tags" in main.names and "product" in main.names


def test_refuses_a_folder_that_is_not_a_fixture_folder(tmp_path):
    (tmp_path / "notes.txt").write_text("mine")
    with pytest.raises(ValueError, match="refusing"):
        generate(tmp_path)
    assert (tmp_path / "notes.txt").read_text() == "mine"
