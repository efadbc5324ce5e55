"""The decisions scenario of the generator (`mlcost fixtures --scenario decisions`): the decision tables find
exactly what it planted and wrote to answers.json, with the $ figures to the cent.

The planted cases (fixtures/model_company/decisions.py; seed 16):

| table | answer |
|---|---|
| cost_anomalies | 2026-10-14 effective_cost chat / egress (+800.00 planted), 2026-10-20 cost_per_prediction chat, 2026-10-24 and 10-25 eta i-0train |
| budget_status | chat-inference crossed (October actual ≥ 30,000.00), llama-training not |
| recommendations | idle_gpu i-0idle: 100 × 0.98 × 7 × 30 / 7 = 2,940.00 |
"""

from __future__ import annotations

import json
from datetime import date

import polars as pl
import pytest

from fixtures.model_company.decisions import decision_tables
from pipelines.cli import main
from pipelines.config import Settings
from pipelines.decisions.anomalies import compute_anomalies
from pipelines.decisions.budgets import compute_budget_status
from pipelines.decisions.forecast import compute_forecast
from pipelines.decisions.recommendations import compute_recommendations
from pipelines.storage import lake

SEPTEMBER, OCTOBER = date(2026, 9, 1), date(2026, 10, 1)


@pytest.fixture(scope="module")
def scenario(tmp_path_factory):
    """The scenario written by the command line, loaded into a lake, and every decision table computed."""
    out = tmp_path_factory.mktemp("scenario")
    assert main(["fixtures", "--scenario", "decisions", "--out", str(out)]) == 0
    assert sorted(p.name for p in (out / "tables").iterdir()) == [
        "cost_attribution.parquet",
        "cost_by_category_daily.parquet",
        "cost_per_prediction_daily.parquet",
        "gpu_efficiency_daily.parquet",
    ]
    answers = json.loads((out / "answers.json").read_text())
    settings = Settings(home=tmp_path_factory.mktemp("home"), budgets_path=out / "budgets.yaml")
    con = lake.connect(settings)
    for table in (
        "cost_by_category_daily",
        "cost_attribution",
        "cost_per_prediction_daily",
        "gpu_efficiency_daily",
    ):
        # One partition per day, as lake.publish_days writes them.
        frame = pl.read_parquet(out / "tables" / f"{table}.parquet")
        for (day,), rows in frame.group_by("usage_date"):
            path = lake.partition_path(settings, table, day.isoformat())
            path.parent.mkdir(parents=True, exist_ok=True)
            rows.write_parquet(path)
    compute_anomalies(con, settings, OCTOBER, date(2026, 10, 31))
    compute_forecast(con, settings, [SEPTEMBER, OCTOBER])
    compute_budget_status(con, settings, [SEPTEMBER, OCTOBER])
    compute_recommendations(con, settings, [SEPTEMBER, OCTOBER])
    lake.register_views(con, settings, ["cost_anomalies", "budget_status", "recommendations"])
    return con, answers


def test_answers_are_the_planted_cases():
    _, answers = decision_tables(16)
    assert [(a["usage_date"], a["metric"], a["scope"]) for a in answers["anomalies"]] == [
        ("2026-10-14", "effective_cost", "chat / egress"),
        ("2026-10-20", "cost_per_prediction", "chat"),
        ("2026-10-24", "eta", "i-0train"),
        ("2026-10-25", "eta", "i-0train"),
    ]
    # The spike's impact is the planted 800.00 plus the day's noise against the median (seed 16: +0.43).
    assert answers["anomalies"][0]["dollar_impact"] == pytest.approx(800.0, abs=5.0)


def test_exactly_the_planted_anomalies_with_their_impact(scenario):
    con, answers = scenario
    found = con.execute(
        "SELECT strftime(usage_date, '%Y-%m-%d'), metric, scope, round(dollar_impact, 2) FROM cost_anomalies "
        "ORDER BY usage_date, metric"
    ).fetchall()
    planted = [(a["usage_date"], a["metric"], a["scope"], a["dollar_impact"]) for a in answers["anomalies"]]
    assert found == planted  # precision and recall 1, impacts to the cent


def test_the_planted_budget_breach(scenario):
    con, answers = scenario
    got = {
        b: (round(actual, 2), round(forecast, 2), status)
        for b, actual, forecast, status in con.execute(
            "SELECT budget, actual_cost, forecast_cost, status FROM budget_status WHERE billing_period = ?",
            [OCTOBER],
        ).fetchall()
    }
    for answer in answers["budgets"]:
        actual, forecast, status = got[answer["budget"]]
        assert (actual, forecast) == (answer["actual_cost"], answer["forecast_cost"])
        assert (status != "within") == answer["crossed"], status
    assert got["chat-inference"][2] == "actual crossed 100 %"


def test_the_planted_recommendation(scenario):
    con, answers = scenario
    got = con.execute(
        "SELECT strftime(billing_period, '%Y-%m-%d'), kind, resource_id, round(monthly_saving, 2) "
        "FROM recommendations ORDER BY billing_period, monthly_saving DESC"
    ).fetchall()
    assert got == [
        (r["billing_period"], r["kind"], r["resource_id"], r["monthly_saving"])
        for r in answers["recommendations"]
    ]
