"""The decisions scenario (`mlcost fixtures --scenario decisions`): the daily tables the decision layer reads, for a
small company over 2026-09 and 2026-10 with 2 % noise, planted anomalies, a budget breach and an idle GPU, and
the answers the decision tables must give (issue 16).

It is separate from the demo exports on purpose: planting a spike in the demo's bill would move its golden totals.
The tables are written in the shapes the pipeline publishes them (tables/<table>.parquet, one row per day and
scope), with a budgets file (budgets.yaml) and answers.json:

- anomalies: chat's internet egress +800.00 on 2026-10-14; chat's predictions halved on 2026-10-20 at the same
  inference cost (cost per prediction doubles); i-0train left idle (η 0.02) on the weekend of 10-24 and 10-25.
  Each answer's dollar_impact is computed here from the generated series by the documented definition (value −
  median of the same kind of day over the 28 days before; docs/decisions.md), independently of the SQL.
- budgets: chat-inference (30,000.00 a month) is crossed by October's actual cost; llama-training is not.
- recommendations: i-0idle (a p4d.24xlarge, 100.00 a day, η 0.02) for the last 7 days of October: idle_gpu,
  monthly saving 100 × 0.98 × 7 × 30 / 7 = 2,940.00; chat's transfer paths each month: egress_path (NAT: its
  cost; internet: its cost − GB × the CloudFront price).
"""

from __future__ import annotations

import json
import random
from datetime import date, datetime, timedelta
from pathlib import Path
from statistics import median

import polars as pl

from pipelines.decisions.recommendations import CLOUDFRONT_PRICE

START = date(2026, 9, 1)
DAYS = 61
SPIKE = date(2026, 10, 14)
DROP = date(2026, 10, 20)
WEEKEND = (date(2026, 10, 24), date(2026, 10, 25))
IDLE_WEEK = tuple(date(2026, 10, 25) + timedelta(days=i) for i in range(7))
WINDOW_DAYS = 28  # the detector's (pipelines/decisions/anomalies.py); its answers use the same definition
INTERNET_GB, NAT_GB = (
    0.09,
    0.045,
)  # $ per GB, us-east-1 list prices (internet egress first 10 TB; NAT processing)
# The bill's transfer paths of chat: (rule id, service, usage type, resource, $ per GB).
PATHS = {
    "egress-internet": ("AWSDataTransfer", "DataTransfer-Out-Bytes", "i-0serve", INTERNET_GB),
    "egress-nat": ("AmazonVPC", "NatGateway-Bytes", "nat-0chat", NAT_GB),
}
ATTRIBUTION_SCHEMA = {
    "usage_date": pl.Date,
    "billing_period": pl.Date,
    "category": pl.Utf8,
    "workload": pl.Utf8,
    "rule_id": pl.Utf8,
    "allocation": pl.Utf8,
    "service_code": pl.Utf8,
    "usage_type": pl.Utf8,
    "resource_id": pl.Utf8,
    "region": pl.Utf8,
    "instance_type": pl.Utf8,
    "product_gpu_count": pl.Int32,
    "line_item_type": pl.Utf8,
    "charge_category": pl.Utf8,
    "pricing_unit": pl.Utf8,
    "usage_quantity": pl.Float64,
    "charge_period_start": pl.Datetime("us"),
    "charge_period_end": pl.Datetime("us"),
    "billed_cost": pl.Float64,
    "effective_cost": pl.Float64,
    "billing_currency": pl.Utf8,
}

BUDGETS_YAML = """budgets:
  - name: chat-inference
    workload: chat
    category: inference
    amount: 30000
    thresholds: [0.8, 1.0]
  - name: llama-training
    workload: llama
    category: training
    amount: 100000
"""


def _weekend(day: date) -> bool:
    return day.isoweekday() >= 6


def _baseline(series: dict[date, float], day: date) -> float:
    """Median of the same kind of day (weekday / weekend) over the WINDOW_DAYS days before `day`."""
    history = [
        v
        for d, v in series.items()
        if day - timedelta(days=WINDOW_DAYS) <= d < day and _weekend(d) == _weekend(day)
    ]
    return median(history)


def egress_answers(attribution: list[dict]) -> list[dict]:
    """egress_path per month and path (every day has its lines, so no scaling): NAT: its whole cost; internet:
    cost − GB × the CloudFront price."""
    out = []
    for period in (START, date(2026, 10, 1)):
        for rule, (_, _, resource, _) in PATHS.items():
            rows = [r for r in attribution if r["billing_period"] == period and r["rule_id"] == rule]
            cost, gb = sum(r["effective_cost"] for r in rows), sum(r["usage_quantity"] for r in rows)
            saving = cost - gb * CLOUDFRONT_PRICE if rule == "egress-internet" else cost
            out.append(
                {
                    "billing_period": period.isoformat(),
                    "kind": "egress_path",
                    "resource_id": resource,
                    "monthly_saving": round(saving, 2),
                }
            )
    return out


def decision_tables(seed: int = 16) -> tuple[dict[str, pl.DataFrame], dict]:
    """The scenario's daily tables and its answers."""
    rng = random.Random(seed)

    def noisy(x: float, sd: float = 0.02) -> float:
        return round(x * (1 + rng.gauss(0, sd)), 2)

    period = [START + timedelta(days=i) for i in range(DAYS)]
    by_category, attribution, predictions, gpu = [], [], [], []
    egress: dict[date, float] = {}
    per_prediction: dict[date, tuple[float, float]] = {}
    train_eta: dict[date, tuple[float, float]] = {}
    for day in period:
        # i-0idle's compute is llama's training cost too (a 5 % step: no anomaly).
        training = round(noisy(2000.0) + (100.0 if day in IDLE_WEEK else 0.0), 2)
        inference = noisy(1000.0)
        internet, nat = round(noisy(90.0) + (800.0 if day == SPIKE else 0.0), 2), noisy(10.0)
        storage = noisy(3.0, 0.5)  # wild but cents: never above the $ floor
        egress[day] = round(internet + nat, 2)
        for workload, category, cost in (
            ("llama", "training", training),
            ("chat", "inference", inference),
            ("chat", "egress", egress[day]),
            ("chat", "storage", storage),
        ):
            by_category.append(
                {
                    "usage_date": day,
                    "category": category,
                    "workload": workload,
                    "billing_currency": "USD",
                    "billed_cost": cost,
                    "effective_cost": cost,
                }
            )
        midnight = datetime.combine(day, datetime.min.time())
        for rule, cost in (("egress-internet", internet), ("egress-nat", nat)):
            service, usage_type, resource, per_gb = PATHS[rule]
            attribution.append(
                {
                    "usage_date": day,
                    "billing_period": day.replace(day=1),
                    "category": "egress",
                    "workload": "chat",
                    "rule_id": rule,
                    "allocation": "direct",
                    "service_code": service,
                    "usage_type": usage_type,
                    "resource_id": resource,
                    "region": "us-east-1",
                    "line_item_type": "Usage",
                    "charge_category": "Usage",
                    "pricing_unit": "GB",
                    "usage_quantity": cost / per_gb,
                    "charge_period_start": midnight,
                    "charge_period_end": midnight + timedelta(days=1),
                    "billed_cost": cost,
                    "effective_cost": cost,
                    "billing_currency": "USD",
                }
            )
        served = noisy(2_000_000.0) * (0.5 if day == DROP else 1.0)
        per_prediction[day] = (inference / served, served)
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
        resources = [
            ("i-0train", "llama", "training", 0.02 if day in WEEKEND else noisy(0.75), noisy(786.43, 0.01)),
            ("i-0serve", "chat", "inference", noisy(0.9), noisy(98.32, 0.01)),
        ]
        if day in IDLE_WEEK:
            resources.append(("i-0idle", "llama", "training", 0.02, 100.0))
        for resource, workload, category, eta, cost in resources:
            if resource == "i-0train":
                train_eta[day] = (eta, cost)
            gpu.append(
                {
                    "usage_date": day,
                    "resource_id": resource,
                    "workload": workload,
                    "category": category,
                    "instance_type": "p4d.24xlarge",
                    "gpu_count": 8,
                    "allocated_gpu_hours": 192.0,
                    "observed_gpu_hours": 192.0,
                    "active_gpu_hours": 192 * eta,
                    "eta": eta,
                    "coverage": 1.0,
                    "gpu_cost": cost,
                    "idle_cost": cost * (1 - eta),
                }
            )

    cpp = {d: v for d, (v, _) in per_prediction.items()}
    etas = {d: e for d, (e, _) in train_eta.items()}
    anomalies = [
        {
            "usage_date": SPIKE.isoformat(),
            "metric": "effective_cost",
            "scope": "chat / egress",
            "planted": "internet egress +800.00",
            "dollar_impact": round(egress[SPIKE] - _baseline(egress, SPIKE), 2),
        },
        {
            "usage_date": DROP.isoformat(),
            "metric": "cost_per_prediction",
            "scope": "chat",
            "planted": "predictions halved at the same inference cost",
            "dollar_impact": round((cpp[DROP] - _baseline(cpp, DROP)) * per_prediction[DROP][1], 2),
        },
    ] + [
        {
            "usage_date": day.isoformat(),
            "metric": "eta",
            "scope": "i-0train",
            "planted": "GPU left running idle (η 0.02) over the weekend",
            "dollar_impact": round((_baseline(etas, day) - etas[day]) * train_eta[day][1], 2),
        }
        for day in WEEKEND
    ]
    october = [r for r in by_category if r["usage_date"] >= date(2026, 10, 1)]
    chat_inference = round(
        sum(r["effective_cost"] for r in october if (r["workload"], r["category"]) == ("chat", "inference")),
        2,
    )
    llama_training = round(
        sum(r["effective_cost"] for r in october if (r["workload"], r["category"]) == ("llama", "training")),
        2,
    )
    answers = {
        "scenario": "decisions",
        "seed": seed,
        "anomalies": anomalies,
        "budgets": [
            {
                "billing_period": "2026-10-01",
                "budget": "chat-inference",
                "actual_cost": chat_inference,
                "forecast_cost": chat_inference,
                "crossed": chat_inference >= 30000,
            },
            {
                "billing_period": "2026-10-01",
                "budget": "llama-training",
                "actual_cost": llama_training,
                "forecast_cost": llama_training,
                "crossed": llama_training >= 80000,
            },
        ],
        "recommendations": sorted(
            [
                {
                    "billing_period": "2026-10-01",
                    "kind": "idle_gpu",
                    "resource_id": "i-0idle",
                    "monthly_saving": round(100.0 * 0.98 * 7 * 30 / 7, 2),
                }
            ]
            + egress_answers(attribution),
            key=lambda r: (r["billing_period"], -r["monthly_saving"]),
        ),
    }
    tables = {
        "cost_by_category_daily": pl.DataFrame(by_category),
        "cost_attribution": pl.DataFrame(attribution, schema=ATTRIBUTION_SCHEMA),
        "cost_per_prediction_daily": pl.DataFrame(predictions),
        "gpu_efficiency_daily": pl.DataFrame(gpu),
    }
    return tables, answers


def generate_decisions(out_dir: Path, seed: int = 16) -> dict:
    """Write tables/<table>.parquet, budgets.yaml and answers.json under out_dir; return the answers."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    if any(out_dir.iterdir()) and not (out_dir / "answers.json").exists():
        raise ValueError(
            f"{out_dir} is not empty and holds no answers.json: refusing to write fixtures into it"
        )
    tables, answers = decision_tables(seed)
    (out_dir / "tables").mkdir(exist_ok=True)
    for name, frame in tables.items():
        frame.write_parquet(out_dir / "tables" / f"{name}.parquet")
    (out_dir / "budgets.yaml").write_text(BUDGETS_YAML)
    (out_dir / "answers.json").write_text(json.dumps(answers, indent=2) + "\n")
    return answers
