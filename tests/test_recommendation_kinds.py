"""recommendations beyond idle GPUs: each kind on a planted case in September 2026 (30 days), figures by hand.

The bill's lines are written as cost_attribution rows (what the recommender reads), with the usage types AWS bills:
TimedStorage-ByteHrs in GB-Mo, transfer usage types in GB, hourly BoxUsage lines.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta

import polars as pl
import pytest

from pipelines.config import Settings
from pipelines.decisions.recommendations import compute_recommendations
from pipelines.storage import lake
from tests.decisions_lake import days, write_table

SEPTEMBER = date(2026, 9, 1)
MONTH = days(SEPTEMBER, 30)
WEEK = days(date(2026, 9, 24), 7)


def line(day: date, usage_type: str, quantity: float, cost: float, resource: str, **extra) -> dict:
    start = datetime.combine(day, datetime.min.time())
    return {
        "usage_date": day,
        "billing_period": SEPTEMBER,
        "category": extra.pop("category", "storage"),
        "workload": extra.pop("workload", "vision"),
        "rule_id": "r1",
        "allocation": "direct",
        "service_code": "AmazonS3",
        "effective_cost": cost,
        "billing_currency": "USD",
        "usage_quantity": quantity,
        "usage_type": usage_type,
        "resource_id": resource,
        "region": "us-east-1",
        "line_item_type": "Usage",
        "charge_category": "Usage",
        "charge_period_start": extra.pop("start", start),
        "charge_period_end": extra.pop("end", start + timedelta(days=1)),
        **extra,
    }


def bill_lines() -> list[dict]:
    rows = []
    for day in MONTH:
        rows += [
            # 10,000 GB all month: 10,000 / 30 GB-Mo a day at 0.023 → 230.00 a month; no read charges.
            line(day, "TimedStorage-ByteHrs", 10000 / 30, 230 / 30, "cold-bucket"),
            # The same, read: 10.00 a month of GETs (4.3 % of its storage cost > 1 %): not listed.
            line(day, "TimedStorage-ByteHrs", 10000 / 30, 230 / 30, "hot-bucket"),
            line(day, "Requests-Tier2", 1000, 10 / 30, "hot-bucket"),
            # Transfer paths.
            line(day, "USE1-USW2-AWS-Out-Bytes", 100, 2.0, "model-bucket", category="egress"),
            line(day, "DataTransfer-Out-Bytes", 1000, 90.0, "i-web", category="egress"),
            line(day, "NatGateway-Bytes", 2000, 90.0, "nat-1", category="egress"),
        ]
        # On-demand GPU compute: i-base runs every hour (21.96), i-day 08:00-16:00 (8 more hours at 21.96).
        for hour in range(24):
            start = datetime.combine(day, datetime.min.time()) + timedelta(hours=hour)
            hourly = {"start": start, "end": start + timedelta(hours=1), "category": "training"}
            rows.append(
                line(day, "BoxUsage:p4d.24xlarge", 1, 21.96, "i-base", instance_type="p4d.24xlarge", **hourly)
            )
            if 8 <= hour < 16:
                rows.append(
                    line(
                        day,
                        "BoxUsage:p4d.24xlarge",
                        1,
                        21.96,
                        "i-day",
                        instance_type="p4d.24xlarge",
                        **hourly,
                    )
                )
    return rows


def gpu_rows() -> tuple[list[dict], list[dict], list[dict]]:
    """A g5.48xlarge on which 3 of 8 GPUs work (η 0.9) and 5 idle (0.01); a 1-GPU endpoint serving chat."""
    efficiency, devices = [], []
    for day in WEEK:
        efficiency.append(
            {
                "usage_date": day,
                "resource_id": "i-eight",
                "workload": "vision",
                "category": "training",
                "instance_type": "g5.48xlarge",
                "gpu_count": 8,
                "allocated_gpu_hours": 192.0,
                "observed_gpu_hours": 192.0,
                "active_gpu_hours": 24 * (3 * 0.9 + 5 * 0.01),
                "eta": (3 * 0.9 + 5 * 0.01) / 8,
                "coverage": 1.0,
                "gpu_cost": 16.288 * 24,
                "idle_cost": 16.288 * 24 * (1 - (3 * 0.9 + 5 * 0.01) / 8),
            }
        )
        devices += [
            {
                "usage_date": day,
                "resource_id": "i-eight",
                "device": f"gpu {i}",
                "gpu_index": i,
                "observed_gpu_hours": 24.0,
                "active_gpu_hours": 24 * eta,
                "eta": eta,
            }
            for i, eta in enumerate([0.9, 0.9, 0.9, 0.01, 0.01, 0.01, 0.01, 0.01])
        ]
        # chat: 24 observed GPU hours, 12 active (η 0.5), 100.00 a day; 432,000 predictions in as many
        # invocations: t(1) = 12 h × 3,600,000 ms / 432,000 = 100 ms.
        efficiency.append(
            {
                "usage_date": day,
                "resource_id": "ep-chat",
                "workload": "chat",
                "category": "inference",
                "instance_type": "ml.g5.xlarge",
                "gpu_count": 1,
                "allocated_gpu_hours": 24.0,
                "observed_gpu_hours": 24.0,
                "active_gpu_hours": 12.0,
                "eta": 0.5,
                "coverage": 1.0,
                "gpu_cost": 100.0,
                "idle_cost": 50.0,
            }
        )
    predictions = [
        {
            "usage_date": day,
            "workload": "chat",
            "endpoint": "chat",
            "predictions": 432000.0,
            "invocations": 432000.0,
            "failed_requests": 0.0,
        }
        for day in WEEK
    ]
    return efficiency, devices, predictions


def write_commitment(settings: Settings) -> None:
    path = lake.partition_path(settings, "commitment_utilization", SEPTEMBER.isoformat())
    path.parent.mkdir(parents=True, exist_ok=True)
    pl.DataFrame(
        {
            "billing_period": [SEPTEMBER],
            "commitment_id": ["arn:aws:savingsplans::1:savingsplan/sp-1"],
            "commitment_type": ["Savings Plan"],
            "total_commitment_cost": [5000.0],
            "unused_commitment_cost": [1000.0],
            "utilization": [0.8],
        }
    ).write_parquet(path)


def test_each_kind_and_its_saving(tmp_path):
    """
    | kind | resource | formula | monthly saving |
    |---|---|---|---:|
    | multi_gpu | i-eight | (16.288 − 5.672 g5.12xlarge) × 24 × 30; at most 3 of 8 GPUs worked | 7,643.52 |
    | commitment | — | floor 21.96 (i-base) × 0.25 × 24 × 30 | 3,952.80 |
    | egress_path | nat-1 | 90 × 30 | 2,700.00 |
    | batching | ep-chat | 700 × (1 − (1 + 0.1 × 10) / 11) × 30 / 7 = 27,000 / 11; t(11) = 200 ms ≤ 200 | 2,454.55 |
    | unused_commitment | sp-1 | unused 1,000 | 1,000.00 |
    | storage_lifecycle | cold-bucket | 230 − 10,000 GB-Mo × 0.004 | 190.00 |
    | egress_path | i-web | 2,700 − 30,000 GB × 0.085 | 150.00 |
    | egress_path | model-bucket | 2 × 30 | 60.00 |

    Not listed: hot-bucket (reads 10.00 > 1 % of 230.00); i-eight as idle_gpu (η 0.34375 ≥ 0.3); ep-chat as
    idle_gpu (η 0.5).
    """
    settings = Settings(home=tmp_path)
    efficiency, devices, predictions = gpu_rows()
    write_table(settings, "cost_attribution", bill_lines())
    write_table(settings, "gpu_efficiency_daily", efficiency)
    write_table(settings, "gpu_efficiency_by_device_daily", devices)
    write_table(settings, "predictions_daily", predictions)
    write_commitment(settings)
    con = lake.connect(settings)
    assert compute_recommendations(con, settings, [SEPTEMBER]) == {"2026-09-01": 8}
    lake.register_views(con, settings, ["recommendations"])
    got = con.execute(
        "SELECT kind, resource_id, round(monthly_saving, 2), confidence FROM recommendations "
        "ORDER BY monthly_saving DESC"
    ).fetchall()
    assert got == [
        ("multi_gpu", "i-eight", 7643.52, "medium"),
        ("commitment", None, 3952.80, "medium"),
        ("egress_path", "nat-1", 2700.00, "low"),
        ("batching", "ep-chat", 2454.55, "low"),
        ("unused_commitment", "arn:aws:savingsplans::1:savingsplan/sp-1", 1000.00, "medium"),
        ("storage_lifecycle", "cold-bucket", 190.00, "high"),
        ("egress_path", "i-web", 150.00, "low"),
        ("egress_path", "model-bucket", 60.00, "medium"),
    ]
    actions = dict(
        con.execute("SELECT kind || ' ' || coalesce(resource_id, ''), action FROM recommendations").fetchall()
    )
    assert (
        actions["multi_gpu i-eight"] == "move to g5.12xlarge (4 GPU(s)): at most 3 of 8 GPUs worked on a day"
    )
    assert actions["batching ep-chat"] == (
        "batch 11 predictions per invocation (now 1.00): latency 200.0 ms, within the 200 ms budget"
    )
    assert actions["commitment "] == (
        "a 1-year Compute Savings Plan of 16.47 an hour (covers 21.96 of on-demand GPU compute an hour)"
    )


def test_a_tighter_latency_budget_batches_less(tmp_path):
    """Budget 150 ms: t(B) = 100 × (1 + 0.1 (B − 1)) ≤ 150 → B = 6; saving 700 × (1 − 1.5 / 6) × 30 / 7 = 2,250.00."""
    settings = Settings(home=tmp_path, latency_budget_ms=150)
    efficiency, _, predictions = gpu_rows()
    write_table(settings, "gpu_efficiency_daily", [r for r in efficiency if r["resource_id"] == "ep-chat"])
    write_table(settings, "predictions_daily", predictions)
    con = lake.connect(settings)
    assert compute_recommendations(con, settings, [SEPTEMBER]) == {"2026-09-01": 1}
    lake.register_views(con, settings, ["recommendations"])
    assert con.execute("SELECT kind, round(monthly_saving, 2), action FROM recommendations").fetchall() == [
        (
            "batching",
            pytest.approx(2250.0),
            "batch 6 predictions per invocation (now 1.00): latency 150.0 ms, within the 150 ms budget",
        )
    ]


def test_sagemaker_on_demand_is_a_sagemaker_savings_plan(tmp_path):
    """Compute Savings Plans do not cover SageMaker: an endpoint on demand every hour of September (ml.g5.xlarge,
    1.408 an hour) is a SageMaker Savings Plan of 1.408 × 0.75 = 1.06 an hour; 1.408 × 0.25 × 720 = 253.44.
    EC2 on demand (i-base, 21.96 every hour) stays a Compute Savings Plan (3,952.80)."""
    settings = Settings(home=tmp_path)
    rows = []
    for day in MONTH:
        for hour in range(24):
            start = datetime.combine(day, datetime.min.time()) + timedelta(hours=hour)
            hourly = {"start": start, "end": start + timedelta(hours=1), "category": "inference"}
            rows.append(
                line(
                    day,
                    "USE1-Host:ml.g5.xlarge",
                    1,
                    1.408,
                    "arn:aws:sagemaker:us-east-1:1:endpoint/chat",
                    **hourly,
                )
            )
            rows.append(
                line(day, "BoxUsage:p4d.24xlarge", 1, 21.96, "i-base", instance_type="p4d.24xlarge", **hourly)
            )
    write_table(settings, "cost_attribution", rows)
    con = lake.connect(settings)
    assert compute_recommendations(con, settings, [SEPTEMBER]) == {"2026-09-01": 2}
    lake.register_views(con, settings, ["recommendations"])
    assert con.execute(
        "SELECT kind, round(monthly_saving, 2), action FROM recommendations ORDER BY monthly_saving DESC"
    ).fetchall() == [
        (
            "commitment",
            3952.80,
            "a 1-year Compute Savings Plan of 16.47 an hour (covers 21.96 of on-demand GPU compute an hour)",
        ),
        (
            "commitment",
            253.44,
            "a 1-year SageMaker Savings Plan of 1.06 an hour (covers 1.41 of on-demand GPU compute an hour)",
        ),
    ]
