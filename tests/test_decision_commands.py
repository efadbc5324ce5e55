"""`mlcost anomalies` and `mlcost forecast`: the figures of the lake, as a table, CSV or JSON."""

from __future__ import annotations

import csv
import io
import json
from datetime import date

import pytest
from test_cost_anomalies import planted_company

from pipelines.cli import main
from pipelines.config import Settings
from pipelines.decisions.anomalies import compute_anomalies
from pipelines.decisions.forecast import compute_forecast
from pipelines.storage import lake


@pytest.fixture
def home(tmp_path, monkeypatch):
    settings = Settings(home=tmp_path)
    planted_company(settings)
    con = lake.connect(settings)
    compute_anomalies(con, settings, date(2026, 10, 1), date(2026, 10, 31))
    compute_forecast(con, settings, [date(2026, 10, 1)])
    monkeypatch.setenv("MLCOST_HOME", str(tmp_path))
    return tmp_path


def test_anomalies_json_lists_the_last_days_anomalies(home, capsys):
    # Last judged day 2026-10-31; 10 days back is 10-22: the weekend idle GPU, not the spike of 10-14.
    assert main(["anomalies", "--days", "10", "--format", "json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert [(r["usage_date"], r["metric"], r["scope"]) for r in rows] == [
        ("2026-10-25", "eta", "i-0train"),
        ("2026-10-24", "eta", "i-0train"),
    ]
    assert rows[0]["dollar_impact"] > 50 and rows[0]["top_contributors"].startswith("p4d.24xlarge, GPU cost ")


def test_anomalies_csv_and_table(home, capsys):
    assert main(["anomalies", "--days", "31", "--format", "csv"]) == 0
    rows = list(csv.DictReader(io.StringIO(capsys.readouterr().out)))
    assert [(r["usage_date"], r["metric"]) for r in rows] == [
        ("2026-10-25", "eta"),
        ("2026-10-24", "eta"),
        ("2026-10-20", "cost_per_prediction"),
        ("2026-10-14", "effective_cost"),
    ]
    assert main(["anomalies", "--days", "3"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("mlcost anomalies: 0 from 2026-10-29 to 2026-10-31")


def test_forecast_prints_the_month_end(home, capsys):
    assert main(["forecast", "--format", "json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert {(r["category"], r["workload"]) for r in rows} == {
        ("training", "llama"),
        ("inference", "chat"),
        ("egress", "chat"),
        ("storage", "chat"),
    }
    assert all(
        r["days_remaining"] == 0 and r["forecast_cost"] == r["mtd_cost"] for r in rows
    )  # a whole month
    assert main(["forecast", "--period", "2026-10"]) == 0
    assert capsys.readouterr().out.startswith("mlcost forecast 2026-10: ")


def test_forecast_table_shows_the_budgets_beside_it(home, capsys):
    from test_budgets import BUDGETS

    from pipelines.decisions.budgets import compute_budget_status

    (home / "budgets.yaml").write_text(BUDGETS)
    settings = Settings(home=home, budgets_path=home / "budgets.yaml")
    compute_budget_status(lake.connect(settings), settings, [date(2026, 10, 1)])
    assert main(["forecast"]) == 0
    out = capsys.readouterr().out
    assert "budgets (2026-10):" in out
    assert "llama-training" in out and "actual crossed 100 %" in out
    assert main(["forecast", "--format", "json"]) == 0
    assert "budget" not in capsys.readouterr().out  # csv and json: the forecast only


def test_commands_before_a_run_say_so(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("MLCOST_HOME", str(tmp_path))
    assert main(["anomalies"]) == 1
    assert "cost_anomalies has no published data yet: run `mlcost run` first" in capsys.readouterr().out
    assert main(["forecast"]) == 1


def test_recommend_lists_savings_above_the_floor(tmp_path, monkeypatch, capsys):
    from test_recommendations import test_idle_gpus_and_their_monthly_saving

    test_idle_gpus_and_their_monthly_saving(tmp_path)  # i-idle 23,121.04 and i-half 2,400.00 a month
    monkeypatch.setenv("MLCOST_HOME", str(tmp_path))
    assert main(["recommend", "--min-saving", "5000", "--format", "json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert [(r["resource_id"], r["monthly_saving"], r["confidence"]) for r in rows] == [
        ("i-idle", 23121.04, "high")
    ]
    assert main(["recommend"]) == 0
    assert capsys.readouterr().out.startswith("mlcost recommend 2026-10: 2 recommendation(s) saving ≥ 0.00")
