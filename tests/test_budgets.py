"""Budgets: the file is validated at load (one line naming the file and the budget); budget_status figures."""

from __future__ import annotations

from datetime import date

import pytest

from pipelines.config import Settings
from pipelines.decisions.budgets import compute_budget_status, describe_crossed, load_budgets
from pipelines.decisions.forecast import compute_forecast
from pipelines.errors import InputError
from pipelines.storage import lake
from tests.decisions_lake import cost_rows, write_table

SEPTEMBER = date(2026, 9, 1)

BUDGETS = """\
budgets:
  - name: chat-serving
    workload: chat
    category: inference
    amount: 30000
    thresholds: [0.8, 1.0]
  - name: llama-training
    model: llama
    amount: 20000
  - name: egress
    category: egress
    amount: 5000
    thresholds: [0.5]
  - name: everything-eur
    amount: 10
    currency: EUR
"""


@pytest.mark.parametrize(
    "text, problem",
    [
        ("budgets: [{amount: 5}]", "budget #1 has no name"),
        (
            "budgets: [{name: a, amount: 5, team: x}]",
            "budget 'a': unknown field(s) team (accepted: name, category, ",
        ),
        ("budgets: [{name: a, amount: 5}, {name: a, amount: 6}]", "budget 'a': duplicate name"),
        (
            "budgets: [{name: a, amount: 5, category: gpu}]",
            "budget 'a': category 'gpu' is not one of training, ",
        ),
        (
            "budgets: [{name: a, amount: 5, workload: x, model: y}]",
            "budget 'a': give workload or model, not both",
        ),
        ("budgets: [{name: a}]", "budget 'a': amount (per month) is missing"),
        ("budgets: [{name: a, amount: '5k'}]", "budget 'a': amount must be a number, not '5k'"),
        ("budgets: [{name: a, amount: 0}]", "budget 'a': amount must be above 0, not 0"),
        ("budgets: [{name: a, amount: 5, currency: usd}]", "budget 'a': currency must be an ISO 4217 code"),
        (
            "budgets: [{name: a, amount: 5, thresholds: [80, 100]}]",
            "budget 'a': thresholds are shares of amount",
        ),
        (
            "budgets: [{name: a, amount: 5, thresholds: [1.0, 0.8]}]",
            "budget 'a': thresholds must be increasing",
        ),
        (
            "budgets: [{name: a, amount: 5, thresholds: []}]",
            "budget 'a': thresholds must be a list of shares",
        ),
        ("- name: a", "a budgets file is a mapping with one field, `budgets`"),
        ("budgets: [name: a", "not valid YAML ("),
    ],
)
def test_a_bad_budgets_file_is_one_line_naming_the_file_and_the_budget(tmp_path, text, problem):
    path = tmp_path / "budgets.yaml"
    path.write_text(text)
    with pytest.raises(InputError) as err:
        load_budgets(path)
    message = str(err.value)
    assert message.startswith(f"{path}: "), message
    assert problem in message, message
    assert "\n" not in message


def test_the_setting_refuses_a_missing_file(tmp_path):
    with pytest.raises(InputError, match="MLCOST_BUDGETS="):
        Settings.from_env({"MLCOST_HOME": str(tmp_path), "MLCOST_BUDGETS": str(tmp_path / "nope.yaml")})


def test_budget_status_figures(tmp_path):
    """September as of day 10, constant days, so forecast = daily × 30:

    | budget | actual (10 days) | forecast | amount | actual % | forecast % | status |
    |---|---:|---:|---:|---:|---:|---|
    | chat-serving (chat inference 900/day) | 9,000 | 27,000 | 30,000 | 30 % | 90 % | forecast crosses 80 % |
    | llama-training (llama: 2,100/day) | 21,000 | 63,000 | 20,000 | 105 % | 315 % | actual crossed 100 % |
    | egress (chat 50 + llama 10 /day) | 600 | 1,800 | 5,000 | 12 % | 36 % | within |
    | everything-eur (no EUR cost) | 0 | 0 | 10 | 0 % | 0 % | within |
    """
    path = tmp_path / "budgets.yaml"
    path.write_text(BUDGETS)
    settings = Settings(home=tmp_path / "home", budgets_path=path)
    series = {
        ("chat", "inference"): 900.0,
        ("chat", "egress"): 50.0,
        ("llama", "training"): 2000.0,
        ("llama", "storage"): 90.0,
        ("llama", "egress"): 10.0,
    }
    points = {key: [(date(2026, 9, d), cost) for d in range(1, 11)] for key, cost in series.items()}
    write_table(settings, "cost_by_category_daily", cost_rows(points))
    con = lake.connect(settings)
    compute_forecast(con, settings, [SEPTEMBER])
    compute_budget_status(con, settings, [SEPTEMBER])
    lake.register_views(con, settings, ["budget_status"])
    got = {
        row[0]: row[1:]
        for row in con.execute(
            "SELECT budget, round(actual_cost, 2), round(forecast_cost, 2), amount, round(actual_share, 4), "
            "round(forecast_share, 4), crossed_actual, crossed_forecast, status FROM budget_status"
        ).fetchall()
    }
    assert got == {
        "chat-serving": (9000.0, 27000.0, 30000.0, 0.3, 0.9, None, 0.8, "forecast crosses 80 %"),
        "llama-training": (21000.0, 63000.0, 20000.0, 1.05, 3.15, 1.0, 1.0, "actual crossed 100 %"),
        "egress": (600.0, 1800.0, 5000.0, 0.12, 0.36, None, None, "within"),
        "everything-eur": (0.0, 0.0, 10.0, 0.0, 0.0, None, None, "within"),
    }
    from pipelines.orchestration.checks import check_rows

    rows = check_rows(con, "budget_status", "budget_thresholds_crossed", SEPTEMBER, SEPTEMBER)
    assert describe_crossed(rows) == (
        "2 budget(s) over a threshold: chat-serving (category=inference, workload=chat, 2026-09): forecast crosses "
        "80 %: actual 9,000.00 (30%), forecast 27,000.00 (90%) of 30,000.00 USD; llama-training (workload=llama, "
        "2026-09): actual crossed 100 %: actual 21,000.00 (105%), forecast 63,000.00 (315%) of 20,000.00 USD"
    )


def test_no_budgets_file_publishes_an_empty_month(tmp_path):
    settings = Settings(home=tmp_path)
    write_table(settings, "cost_by_category_daily", cost_rows({("w", "inference"): [(SEPTEMBER, 1.0)]}))
    con = lake.connect(settings)
    compute_forecast(con, settings, [SEPTEMBER])
    assert compute_budget_status(con, settings, [SEPTEMBER]) == {"2026-09-01": 0}


def test_a_bad_budgets_file_stops_mlcost_run_before_anything_is_written(tmp_path, monkeypatch, capsys):
    from pipelines.cli import main

    path = tmp_path / "budgets.yaml"
    path.write_text("budgets: [{name: a, amount: 5, thresholds: [1.0, 0.8]}]")
    home = tmp_path / "home"
    monkeypatch.setenv("MLCOST_HOME", str(home))
    monkeypatch.setenv("MLCOST_BUDGETS", str(path))
    assert main(["run", "--cur-source", str(tmp_path)]) == 2
    err = capsys.readouterr().err.strip()
    assert (
        err
        == f"mlcost: error: {path}: budget 'a': thresholds must be increasing without repeats, not [1.0, 0.8]"
    )
    assert not (home / "lake").exists()
