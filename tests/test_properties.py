"""Properties that must hold for any input, checked on random ones (hypothesis, few examples to stay fast).

- Attribution: Σ attributed = Σ source per billing period and currency, and per line; every line gets exactly
  one category; every day belongs to its line's billing period (random line types, spans from zero to months,
  lines outside their billing period, several currencies, a random sharing strategy per shared kind).
- GPU efficiency: η in [0, 1]; each η column NULL exactly where its denominator is 0 or missing; active ≤
  observed on the unclipped hours; observed ≤ allocated when the log has no more GPUs than the instance, and
  otherwise the blocking check fires exactly on the days observed exceeds allocated (random nvidia-smi logs
  against random billed hours of instances with 1, 4 or 8 GPUs).
- Predictions: counts are never negative, whatever a counts file or request log holds.
"""

from __future__ import annotations

import csv
import tempfile
from datetime import date, datetime, timedelta
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pipelines.attribution.compute import attribute
from pipelines.attribution.rules import CATEGORIES, SHARED_KINDS, STRATEGIES, Rules, load_rules
from pipelines.billing.ingest import ingest_deliveries
from pipelines.config import Settings
from pipelines.gpu.efficiency import compute_efficiency, publish_samples
from pipelines.gpu.samples import read_gpu_samples
from pipelines.orchestration.checks import check_rows
from pipelines.predictions import read_predictions
from pipelines.storage import lake
from tests.conftest import FileDelivery

SLOW = settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
HEADER = [
    "bill/BillingPeriodStartDate", "lineItem/UsageStartDate", "lineItem/UsageEndDate",
    "lineItem/LineItemType", "lineItem/ProductCode", "lineItem/UsageType", "lineItem/ResourceId",
    "lineItem/UsageAmount", "lineItem/UnblendedCost", "lineItem/CurrencyCode", "pricing/unit",
    "product/instanceType", "reservation/ReservationARN", "resourceTags/user:team",
]  # fmt: skip
# (line type, product, usage type, commitment arn): usage of every category, and every kind of shared charge.
KINDS = [
    ("Usage", "AmazonEC2", "BoxUsage:g5.xlarge", ""),
    ("Usage", "AmazonS3", "TimedStorage-ByteHrs", ""),
    ("Usage", "AmazonEC2", "DataTransfer-Out-Bytes", ""),
    ("Usage", "AmazonSageMaker", "USE1-Host:ml.g5.2xlarge", ""),
    ("Usage", "AmazonSageMaker", "USE1-Train:ml.p4d.24xlarge", ""),
    ("Usage", "AmazonCloudWatch", "CW:Requests", ""),
    ("Tax", "AWSTax", "", ""),
    ("Credit", "AmazonEC2", "", ""),
    ("Refund", "AmazonEC2", "", ""),
    ("Fee", "AWSSupportBusiness", "Dollar", ""),
    ("Fee", "AmazonEC2", "HeavyUsage:g5.xlarge", "arn:aws:ec2:us-east-1:1:reserved-instances/ri-1"),
    ("RIFee", "AmazonEC2", "HeavyUsage:g5.xlarge", "arn:aws:ec2:us-east-1:1:reserved-instances/ri-1"),
]
MONTHS = [date(2026, 10, 1), date(2026, 11, 1)]
FIRST_DAY, LAST_DAY = date(2026, 10, 1), date(2026, 11, 30)


def _home(tmp: str) -> tuple[Settings, object]:
    home = Settings(home=Path(tmp) / "home")
    return home, lake.connect(home)


def _write(path: Path, header: list[str], rows: list[list[str]]) -> Path:
    with path.open("w", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(header)
        writer.writerows(rows)
    return path


def _iso(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


# --- attribution --------------------------------------------------------------------------------------------

lines = st.lists(
    st.fixed_dictionaries(
        {
            "month": st.sampled_from(MONTHS),
            # Hours from the period's start: negative or past the month end puts the line outside its period.
            "start": st.integers(min_value=-24 * 10, max_value=24 * 35),
            # Zero length, an hour, a day or so, or months (a monthly fee, a late multi-month credit).
            "hours": st.one_of(st.just(0), st.just(1), st.integers(2, 60), st.integers(300, 24 * 62)),
            "kind": st.sampled_from(KINDS),
            "cost": st.decimals(
                min_value=-50, max_value=200, places=4, allow_nan=False, allow_infinity=False
            ),
            "currency": st.sampled_from(["USD", "USD", "EUR", "JPY"]),
            # Few resources and teams, so lines share rule keys as real bills do.
            "resource": st.sampled_from(["", "i-1", "i-2", "arn:aws:sagemaker:us-east-1:1:endpoint/Chat"]),
            "team": st.sampled_from(["", "search", "chat"]),
        }
    ),
    min_size=1,
    max_size=14,
)
strategies_by_kind = st.fixed_dictionaries({kind: st.sampled_from(STRATEGIES) for kind in SHARED_KINDS})


def _line_rows(generated: list[dict]) -> list[list[str]]:
    out = []
    for i, line in enumerate(generated):
        period = datetime.combine(line["month"], datetime.min.time())
        start = period + timedelta(hours=line["start"])
        line_type, product, usage_type, arn = line["kind"]
        out.append(
            [_iso(period), _iso(start), _iso(start + timedelta(hours=line["hours"])), line_type, product,
             usage_type, line["resource"], "1", str(line["cost"]), line["currency"],
             f"line-{i}",  # pricing/unit is carried to every attribution row: it names the source line
             "g5.xlarge" if "g5" in usage_type else "", arn, line["team"]]
        )  # fmt: skip
    return out


@SLOW
@given(generated=lines, strategies=strategies_by_kind)
def test_every_dollar_is_attributed_once_to_one_category(generated, strategies):
    rules = Rules(**{**load_rules().__dict__, "strategies": strategies})
    with tempfile.TemporaryDirectory() as tmp:
        home, con = _home(tmp)
        path = _write(Path(tmp) / "cur.csv", HEADER, _line_rows(generated))
        ingest_deliveries(con, home, [FileDelivery(files=(path,))])
        attribute(con, home, rules, FIRST_DAY, LAST_DAY)
        lake.register_views(con, home, ["line_items", "cost_attribution"])

        source = {
            (p, c): (b, e)
            for p, c, b, e in con.execute(
                "SELECT billing_period, billing_currency, sum(billed_cost), sum(effective_cost) "
                "FROM line_items GROUP BY ALL"
            ).fetchall()
        }
        attributed = {
            (p, c): (b, e)
            for p, c, b, e in con.execute(
                "SELECT billing_period, billing_currency, sum(billed_cost), sum(effective_cost) "
                "FROM cost_attribution GROUP BY ALL"
            ).fetchall()
        }
        assert set(attributed) == set(source)
        for key, (billed, effective) in source.items():
            assert abs(attributed[key][0] - billed) < 1e-6, key
            assert abs(attributed[key][1] - effective) < 1e-6, key

        per_line = con.execute(
            """
            WITH src AS (SELECT pricing_unit, effective_cost, billed_cost FROM line_items),
                 att AS (SELECT pricing_unit, sum(effective_cost) AS e, sum(billed_cost) AS b,
                                count(DISTINCT (category, rule_id)) FILTER (WHERE allocation = 'direct')
                                    AS direct
                         FROM cost_attribution GROUP BY 1)
            SELECT s.pricing_unit, s.effective_cost, coalesce(a.e, 0), s.billed_cost, coalesce(a.b, 0),
                   coalesce(a.direct, 0)
            FROM src s LEFT JOIN att a USING (pricing_unit)
            """
        ).fetchall()
        assert len(per_line) == len(generated)
        for unit, effective, got_effective, billed, got_billed, direct in per_line:
            assert abs(got_effective - effective) < 1e-6, unit
            assert abs(got_billed - billed) < 1e-6, unit
            # One category per line: its direct rows (one per day) agree; spread rows move its shared cost on.
            assert direct <= 1, unit

        bad = con.execute(
            "SELECT count(*) FROM cost_attribution "
            "WHERE category IS NULL OR workload IS NULL OR rule_id IS NULL "
            "OR category NOT IN (SELECT unnest($categories)) "
            "OR date_trunc('month', usage_date) <> billing_period "
            "OR (allocation = 'spread' AND category = 'shared')",
            {"categories": list(CATEGORIES)},
        ).fetchone()[0]
        assert bad == 0
        con.close()


# --- GPU efficiency -----------------------------------------------------------------------------------------

INSTANCE = "i-0123456789abcdef0"
GPU_TYPES = {"g5.xlarge": 1, "g5.12xlarge": 4, "p4d.24xlarge": 8}
BILL_START = datetime(2026, 10, 1, 20)  # billed hours fall in Oct 1 20:00 .. Oct 2 04:00
GPU_HEADER = [
    "bill/BillingPeriodStartDate", "lineItem/UsageStartDate", "lineItem/UsageEndDate",
    "lineItem/LineItemType", "lineItem/ProductCode", "lineItem/UsageType", "lineItem/ResourceId",
    "lineItem/UsageAmount", "lineItem/UnblendedCost", "product/instanceType", "resourceTags/user:team",
]  # fmt: skip

samples = st.lists(
    st.tuples(
        st.integers(min_value=-3600, max_value=10 * 3600),  # seconds after 20:00, some outside billed time
        st.integers(min_value=0, max_value=9),  # GPU index, some beyond the instance's GPUs
        st.integers(min_value=0, max_value=100),  # utilization %
    ),
    max_size=60,
)


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    instance_type=st.sampled_from(sorted(GPU_TYPES)),
    hours=st.sets(st.integers(min_value=0, max_value=7), min_size=1, max_size=8),
    sampled=samples,
    step=st.sampled_from([1, 30, 60]),
)
def test_eta_is_a_fraction_null_without_denominator_and_checked_before_clipping(
    instance_type, hours, sampled, step
):
    with tempfile.TemporaryDirectory() as tmp:
        home, con = _home(tmp)
        hour = timedelta(hours=1)
        bill = [
            ["2026-10-01T00:00:00Z", _iso(BILL_START + h * hour), _iso(BILL_START + (h + 1) * hour), "Usage",
             "AmazonEC2", f"BoxUsage:{instance_type}", INSTANCE, "1", "5.0", instance_type, "chat"]
            for h in sorted(hours)
        ]  # fmt: skip
        ingest_deliveries(con, home, [FileDelivery(files=(_write(Path(tmp) / "cur.csv", GPU_HEADER, bill),))])
        attribute(con, home, load_rules(), date(2026, 10, 1), date(2026, 10, 2))

        log = Path(tmp) / "gpu" / INSTANCE / "nvidia-smi.csv"
        log.parent.mkdir(parents=True)
        text = ["timestamp, index, utilization.gpu [%]"]
        for offset, gpu, util in sampled:
            moment = BILL_START + timedelta(seconds=(offset // step) * step)
            text.append(f"{moment:%Y/%m/%d %H:%M:%S}.000, {gpu}, {util} %")
        log.write_text("\n".join(text) + "\n")
        result = read_gpu_samples(log.parent.parent)
        publish_samples(con, home, result, date(2026, 10, 1), date(2026, 10, 2))
        compute_efficiency(con, home, date(2026, 10, 1), date(2026, 10, 2))
        lake.register_views(con, home, ["gpu_efficiency_daily"])
        found = con.execute(
            "SELECT usage_date, allocated_gpu_hours, observed_gpu_hours, active_gpu_hours, eta, coverage, "
            "eta_observed, eta_allocated, eta_sm, observed_beyond_allocated_gpu_hours, eta_power FROM gpu_efficiency_daily"
        ).fetchall()
        flagged = {
            r["usage_date"]
            for r in check_rows(
                con, "gpu_efficiency_daily", "eta_in_range_and_active_within_allocated", FIRST_DAY, LAST_DAY
            )
        }
        billed_gpu_hours = len(hours) * GPU_TYPES[instance_type]
        only_billed_gpus = all(gpu < GPU_TYPES[instance_type] for _, gpu, _ in sampled)
        assert abs(sum(r[1] for r in found) - billed_gpu_hours) < 1e-9
        for (
            day,
            allocated,
            observed,
            active,
            eta,
            coverage,
            eta_obs,
            eta_alloc,
            eta_sm,
            beyond,
            eta_power,
        ) in found:
            # Unclipped figures: active never above observed, whatever the log claims.
            assert 0 <= active <= observed * (1 + 1e-9) + 1e-9, day
            assert 0 <= coverage <= 1, day
            assert coverage == pytest.approx(min(observed, allocated) / allocated, abs=1e-12), day
            assert beyond == pytest.approx(max(observed - allocated, 0), abs=1e-12), day
            # NULL exactly where the denominator is 0 or missing; never 1.0 or 0 for lack of data.
            assert (eta_obs is None) == (observed == 0), day
            assert (eta_alloc is None) == (observed == 0), day
            assert (eta is None) == (coverage == 0), day
            assert eta_sm is None, day  # nvidia-smi has no SM-activity metric
            assert eta_power is None, day  # nor power draw here
            if eta_obs is not None:
                assert 0 <= eta_obs <= 1 + 1e-9 and eta == pytest.approx(eta_obs), day
                assert eta_alloc == pytest.approx(active / allocated), day
            beyond_bill = observed > allocated * (1 + 1e-9) + 1e-9
            if only_billed_gpus:
                assert not beyond_bill, day
            assert (day in flagged) == beyond_bill, day
        con.close()


# --- predictions --------------------------------------------------------------------------------------------

junk = st.sampled_from(["", "-1", "-0", "3.5", "1e3", "abc", "NaN", "inf", "-inf", " 7 ", "9" * 25])
counts_rows = st.lists(
    st.tuples(
        st.integers(min_value=0, max_value=3 * 24 * 3600),
        st.sampled_from(["m1", "m2", ""]),
        st.one_of(st.integers(min_value=-5, max_value=1000).map(str), junk),
        st.one_of(st.integers(min_value=-5, max_value=1000).map(str), junk),
    ),
    max_size=40,
)
log_rows = st.lists(
    st.tuples(
        st.integers(min_value=0, max_value=3 * 24 * 3600),
        st.sampled_from(["m1", "m2"]),
        st.sampled_from(["200", "201", "404", "500", "ok", "error", "", "-1", "abc"]),
    ),
    max_size=40,
)


@settings(max_examples=40, deadline=None)
@given(counts=counts_rows, requests=log_rows)
def test_prediction_counts_are_never_negative(counts, requests):
    start = datetime(2026, 10, 1)
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "predictions"
        folder.mkdir()
        _write(
            folder / "counts.csv",
            ["timestamp", "model", "count", "errors"],
            [[_iso(start + timedelta(seconds=s)), m, c, e] for s, m, c, e in counts],
        )
        _write(
            folder / "requests.csv",
            ["timestamp", "endpoint", "status"],
            [[_iso(start + timedelta(seconds=s)), m, status] for s, m, status in requests],
        )
        result = read_predictions(folder)
        for row in result.daily.iter_rows(named=True):
            assert row["invocations"] >= 0, row
            assert row["failed_requests"] >= 0, row
            assert row["predictions"] >= 0, row
            assert row["predictions"] <= row["invocations"], row
        for row in result.intervals.iter_rows(named=True):
            # NULL is not negative; that a count too big for 64 bits becomes NULL instead of a skipped line is
            # pinned by test_bad_inputs.py::test_a_count_too_large_for_64_bits_is_skipped_and_counted.
            assert all(row[c] is None or row[c] >= 0 for c in ("invocations", "failed_requests")), row
