"""cost_anomalies: planted anomalies are found, and only them; noise alone never alerts above the dollar floor."""

from __future__ import annotations

import random
from datetime import date, timedelta

import pytest
from hypothesis import HealthCheck, given
from hypothesis import settings as hsettings
from hypothesis import strategies as st

from pipelines.config import Settings
from pipelines.decisions import anomalies
from pipelines.storage import lake
from tests.decisions_lake import cost_rows, days, write_table

START = date(2026, 9, 1)  # 30 days of history before October
OCTOBER = (date(2026, 10, 1), date(2026, 10, 31))


def detect(settings: Settings, start: date, end: date) -> list[dict]:
    con = lake.connect(settings)
    anomalies.compute_anomalies(con, settings, start, end)
    return anomalies.read_anomalies(con, settings, start, end)


def attribution_rows(
    workload: str, category: str, day: date, parts: dict[tuple[str, str], float]
) -> list[dict]:
    return [
        {
            "usage_date": day,
            "category": category,
            "workload": workload,
            "rule_id": rule,
            "allocation": "direct",
            "service_code": service,
            "effective_cost": cost,
            "billing_currency": "USD",
        }
        for (rule, service), cost in parts.items()
    ]


def test_hand_checkable_egress_spike(tmp_path):
    """Egress on weekdays alternating 105 / 95, on weekends a quiet 40, for 28 days; then 900 on a Tuesday.

    | figure | value | why |
    |---|---:|---|
    | history_days | 20 | the weekdays of the 28 days before (weekends are judged against weekends) |
    | baseline | 100.00 | median of ten 95s and ten 105s |
    | MAD | 5.00 | every weekday is 5 from the median |
    | scale | 7.4130 | max(1.4826 × 5, 5 % × 100 = 5) |
    | deviation | 800.00 | 900 − 100 |
    | deviation_pct | 8.00 | 800 / 100 |
    | robust z | 107.9185 | 800 / 7.413 |
    | $ impact | 800.00 | cost: the deviation itself |
    Contributors: egress-internet carried 85 / 95 on weekdays then 890 (delta 890 − 90 = +800.00); egress-nat 10.
    The quiet weekends (40, 60 below the weekday median) are not flagged: their baseline is other weekends.
    """
    settings = Settings(home=tmp_path)
    history = days(START, 28)  # 2026-09-01 is a Tuesday
    spike = START + timedelta(days=28)  # Tuesday 2026-09-29
    weekdays = [d for d in history if d.isoweekday() < 6]
    points = [
        (d, 105.0 if weekdays.index(d) % 2 == 0 else 95.0) if d in weekdays else (d, 40.0) for d in history
    ]
    points.append((spike, 900.0))
    write_table(settings, "cost_by_category_daily", cost_rows({("chat", "egress"): points}))
    rows = []
    for day, cost in points:
        parts = {("egress-internet", "AWSDataTransfer"): cost - 10, ("egress-nat", "AmazonVPC"): 10.0}
        rows += attribution_rows("chat", "egress", day, parts)
    write_table(settings, "cost_attribution", rows)

    found = detect(settings, START, spike)

    assert len(found) == 1
    row = found[0]
    assert (row["usage_date"], row["metric"], row["scope"], row["direction"]) == (
        spike,
        "effective_cost",
        "chat / egress",
        "up",
    )
    assert row["history_days"] == 20
    assert row["baseline"] == pytest.approx(100.0, abs=1e-9)
    assert row["mad"] == pytest.approx(5.0, abs=1e-9)
    assert row["deviation"] == pytest.approx(800.0, abs=1e-9)
    assert row["deviation_pct"] == pytest.approx(8.0, abs=1e-9)
    assert row["dollar_impact"] == pytest.approx(800.0, abs=0.005)
    assert row["robust_z"] == pytest.approx(800 / (1.4826 * 5), abs=1e-6)
    assert (
        row["top_contributors"] == "egress-internet (AWSDataTransfer) +800.00; egress-nat (AmazonVPC) +0.00"
    )


def planted_company(settings: Settings, seed: int = 16) -> set[tuple]:
    """Sixty-one days of a small company with 2 % noise and three planted anomalies; returns the planted set.

    - an egress spike: chat's egress 100/day → 900 on 2026-10-14 (internet transfer);
    - a traffic drop: chat's predictions 2,000,000/day → 1,000,000 on 2026-10-20 at the same inference cost,
      so its cost per prediction doubles;
    - a GPU left running idle for a weekend: i-0train's η 0.75 → 0.02 on Saturday 10-24 and Sunday 10-25.
    """
    rng = random.Random(seed)

    def noisy(x: float, sd: float = 0.02) -> float:
        return round(x * (1 + rng.gauss(0, sd)), 2)

    period = days(START, 61)
    spike, drop, weekend = date(2026, 10, 14), date(2026, 10, 20), {date(2026, 10, 24), date(2026, 10, 25)}
    cost: dict[tuple[str, str], list] = {
        ("llama", "training"): [],
        ("chat", "inference"): [],
        ("chat", "egress"): [],
    }
    cost[("chat", "storage")] = []
    attribution, predictions, gpu = [], [], []
    for day in period:
        training, inference = noisy(2000.0), noisy(1000.0)
        internet, nat = noisy(90.0) + (800.0 if day == spike else 0.0), noisy(10.0)
        cost[("llama", "training")].append((day, training))
        cost[("chat", "inference")].append((day, inference))
        cost[("chat", "egress")].append((day, round(internet + nat, 2)))
        cost[("chat", "storage")].append((day, noisy(3.0, 0.5)))  # wild but cents: never above the floor
        attribution += attribution_rows(
            "chat",
            "egress",
            day,
            {("egress-internet", "AWSDataTransfer"): internet, ("egress-nat", "AmazonVPC"): nat},
        )
        served = noisy(2_000_000.0) * (0.5 if day == drop else 1.0)
        predictions.append(
            {
                "usage_date": day,
                "workload": "chat",
                "predictions": served,
                "inference_cost": inference,
                "cost_per_prediction": inference / served,
                "billing_currency": "USD",
            }
        )
        for resource, workload, category, eta, cost_day in (
            ("i-0train", "llama", "training", 0.02 if day in weekend else noisy(0.75), noisy(786.43, 0.01)),
            ("i-0serve", "chat", "inference", noisy(0.9), noisy(98.32, 0.01)),
        ):
            gpu.append(
                {
                    "usage_date": day,
                    "resource_id": resource,
                    "workload": workload,
                    "category": category,
                    "instance_type": "p4d.24xlarge",
                    "active_gpu_hours": 192 * eta,
                    "eta": eta,
                    "gpu_cost": cost_day,
                }
            )
    write_table(settings, "cost_by_category_daily", cost_rows(cost))
    write_table(settings, "cost_attribution", attribution)
    write_table(settings, "cost_per_prediction_daily", predictions)
    write_table(settings, "gpu_efficiency_daily", gpu)
    return {
        (spike, "effective_cost", "chat / egress"),
        (drop, "cost_per_prediction", "chat"),
        *((d, "eta", "i-0train") for d in sorted(weekend)),
    }


@pytest.mark.parametrize("seed", [16, 17, 18])
def test_planted_anomalies_precision_and_recall_are_one(tmp_path, seed):
    settings = Settings(home=tmp_path)
    planted = planted_company(settings, seed)
    found = detect(settings, *OCTOBER)
    flagged = {(r["usage_date"], r["metric"], r["scope"]) for r in found}
    true_positives = flagged & planted
    precision = len(true_positives) / len(flagged)
    recall = len(true_positives) / len(planted)
    assert (precision, recall) == (1.0, 1.0), sorted(flagged ^ planted)
    by_key = {(r["usage_date"], r["metric"], r["scope"]): r for r in found}
    spike = by_key[(date(2026, 10, 14), "effective_cost", "chat / egress")]
    assert spike["dollar_impact"] == pytest.approx(800.0, abs=25.0)  # 800 planted, ± the 2 % noise of ~100
    assert spike["top_contributors"].startswith("egress-internet (AWSDataTransfer) +")
    drop = by_key[(date(2026, 10, 20), "cost_per_prediction", "chat")]
    assert drop["deviation_pct"] == pytest.approx(1.0, abs=0.1)  # doubled
    assert drop["dollar_impact"] == pytest.approx(
        500.0, abs=50.0
    )  # (2c − c) × 1M predictions at c ≈ 1000 / 2M
    idle = by_key[(date(2026, 10, 24), "eta", "i-0train")]
    assert idle["direction"] == "down"
    assert idle["dollar_impact"] == pytest.approx(0.73 * 786.43, abs=40.0)  # the idle cost the drop added
    text = anomalies.describe_anomalies(found)
    assert text.startswith("4 anomalies: ")
    assert "chat / egress" in text and "i-0train" in text


def test_short_history_is_not_judged(tmp_path):
    """Six days of history (MIN_HISTORY is 7): even a tenfold day is not flagged."""
    settings = Settings(home=tmp_path)
    points = [(d, 100.0) for d in days(START, 6)] + [(START + timedelta(days=6), 1000.0)]
    write_table(settings, "cost_by_category_daily", cost_rows({("chat", "egress"): points}))
    write_table(settings, "cost_attribution", attribution_rows("chat", "egress", START, {("r", "s"): 1.0}))
    assert detect(settings, START, START + timedelta(days=6)) == []


@hsettings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    base=st.floats(min_value=0.0, max_value=1_000_000.0),
    spread=st.floats(min_value=0.0, max_value=anomalies.MIN_IMPACT * 0.999),
    offsets=st.lists(st.floats(min_value=0.0, max_value=1.0), min_size=20, max_size=40),
)
def test_no_planted_change_flags_nothing_above_the_floor(tmp_path_factory, base, spread, offsets):
    """Any series whose days all lie within less than MIN_IMPACT of each other flags nothing, whatever its level,
    noise or constant stretches (MAD 0, a baseline of 0)."""
    settings = Settings(home=tmp_path_factory.mktemp("flat"))
    points = [(d, base + spread * o) for d, o in zip(days(START, len(offsets)), offsets, strict=True)]
    write_table(settings, "cost_by_category_daily", cost_rows({("w", "inference"): points}))
    write_table(settings, "cost_attribution", attribution_rows("w", "inference", START, {("r", "s"): 1.0}))
    assert detect(settings, START, points[-1][0]) == []
