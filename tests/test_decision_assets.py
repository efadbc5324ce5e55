"""The decision assets through Dagster: their warning checks name what moved and which budget crossed."""

from __future__ import annotations

from datetime import date

from dagster import AssetCheckSeverity, materialize
from test_budgets import BUDGETS
from test_cost_anomalies import planted_company

from pipelines.config import Settings
from pipelines.orchestration.code_location import build_definitions
from pipelines.orchestration.resources import MlcostResource


def test_anomalies_check_lists_the_weekend_idle_gpu(tmp_path):
    settings = Settings(home=tmp_path)
    planted_company(settings)
    defs = build_definitions(settings, start=date(2026, 9, 1))
    result = materialize(
        [defs.get_assets_def("cost_anomalies")],
        partition_key="2026-10-24",
        resources={"mlcost": MlcostResource.from_settings(settings)},
    )
    assert result.success
    (check,) = result.get_asset_check_evaluations()
    assert (check.check_name, check.passed, check.severity) == (
        "anomalous_days",
        False,
        AssetCheckSeverity.WARN,
    )
    assert check.metadata["count"].value == 1
    assert check.description.startswith("1 anomaly: 2026-10-24 eta i-0train: η 0.020 vs baseline 0.7")
    assert "p4d.24xlarge, GPU cost" in check.description


def test_budget_check_names_the_scope_and_figures(tmp_path):
    budgets = tmp_path / "budgets.yaml"
    budgets.write_text(BUDGETS)
    settings = Settings(home=tmp_path / "home", budgets_path=budgets)
    # October of the planted company: chat inference ≈ 1,000 a day (≈ 31,000 against 30,000), llama ≈ 2,000 a
    # day of training (≈ 62,000 against 20,000), chat egress ≈ 100 a day + an 800 spike (≈ 3,900 against 5,000).
    planted_company(settings)
    defs = build_definitions(settings, start=date(2026, 9, 1))
    result = materialize(
        [defs.get_assets_def("month_end_forecast"), defs.get_assets_def("budget_status")],
        partition_key="2026-10-01",
        resources={"mlcost": MlcostResource.from_settings(settings)},
    )
    assert result.success
    (check,) = result.get_asset_check_evaluations()
    assert (check.check_name, check.passed) == ("budget_thresholds_crossed", False)
    assert check.description.startswith("3 budget(s) over a threshold: ")
    assert (
        "chat-serving (category=inference, workload=chat, 2026-10): actual crossed 100 %" in check.description
    )
    assert "egress (category=egress, 2026-10): actual crossed 50 %" in check.description
    assert "llama-training (workload=llama, 2026-10): actual crossed 100 %" in check.description
