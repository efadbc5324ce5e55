"""recommendations: idle GPU resources and their monthly saving, on planted cases with figures by hand."""

from __future__ import annotations

from datetime import date

import pytest

from pipelines.config import Settings
from pipelines.decisions.recommendations import compute_recommendations
from pipelines.storage import lake
from tests.decisions_lake import days, write_table

OCTOBER = date(2026, 10, 1)


def gpu_day(day: date, resource: str, eta: float, gpu_cost: float, coverage: float = 1.0) -> dict:
    allocated = 192.0
    observed = allocated * coverage
    return {
        "usage_date": day,
        "resource_id": resource,
        "workload": "llama",
        "category": "training",
        "instance_type": "p4d.24xlarge",
        "gpu_count": 8,
        "allocated_gpu_hours": allocated,
        "observed_gpu_hours": observed,
        "active_gpu_hours": observed * eta,
        "eta": eta,
        "coverage": coverage,
        "gpu_cost": gpu_cost,
        "idle_cost": gpu_cost * (1 - eta),
    }


def test_idle_gpus_and_their_monthly_saving(tmp_path):
    """The last 7 days of October (10-25 .. 10-31); a busy week before them that the window leaves out.

    | resource | η | GPU cost/day | idle/day | idle over 7 days | saving = idle × 30 / 7 | confidence |
    |---|---:|---:|---:|---:|---:|---|
    | i-idle | 0.02 | 786.43 | 770.7014 | 5,394.9098 | 23,121.04 | high |
    | i-half | 0.20 | 100.00 | 80.00 | 560.00 | 2,400.00 | medium (coverage 0.6) |
    | i-busy | 0.80 | 786.43 | — | — | not listed (η ≥ 0.3) | |
    | i-tiny | 0.10 | 1.00 | 0.90 | 6.30 | 27.00: under the 50 floor | |
    """
    settings = Settings(home=tmp_path)
    rows = []
    for day in days(date(2026, 10, 18), 7):  # the week before the window: i-idle was busy then
        rows.append(gpu_day(day, "i-idle", 0.9, 786.43))
    for day in days(date(2026, 10, 25), 7):
        rows += [
            gpu_day(day, "i-idle", 0.02, 786.43),
            gpu_day(day, "i-half", 0.2, 100.0, coverage=0.6),
            gpu_day(day, "i-busy", 0.8, 786.43),
            gpu_day(day, "i-tiny", 0.1, 1.0),
        ]
    write_table(settings, "gpu_efficiency_daily", rows)
    con = lake.connect(settings)
    assert compute_recommendations(con, settings, [OCTOBER]) == {"2026-10-01": 2}
    lake.register_views(con, settings, ["recommendations"])
    got = con.execute(
        "SELECT resource_id, as_of, days_billed, round(eta, 6), round(idle_cost, 4), round(monthly_saving, 2), "
        "confidence, action, computed_as FROM recommendations ORDER BY monthly_saving DESC"
    ).fetchall()
    assert got == [
        (
            "i-idle",
            date(2026, 10, 31),
            7,
            0.02,
            pytest.approx(5394.9098, abs=1e-4),
            23121.04,
            "high",
            "stop it, or schedule it off when unused",
            "idle cost 5394.91 × 30 / 7 days",
        ),
        (
            "i-half",
            date(2026, 10, 31),
            7,
            0.2,
            560.0,
            2400.0,
            "medium",
            "right-size (a smaller instance) or share it (MIG, more models per GPU)",
            "idle cost 560.00 × 30 / 7 days",
        ),
    ]


def test_no_gpu_data_publishes_an_empty_month(tmp_path):
    settings = Settings(home=tmp_path)
    assert compute_recommendations(lake.connect(settings), settings, [OCTOBER]) == {"2026-10-01": 0}
