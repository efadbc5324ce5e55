"""A lake built by `mlcost run` (the Dagster runs, cost_report included) over the generated model company, with
tax spread proportionally and support evenly, so the report's "where shared cost was spread" has rows.

Built once per test session in the session's base temporary folder; test_report.py and test_exports.py share it.
"""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest
from test_examples import company_fixtures

from pipelines.attribution.rules import DEFAULT_RULES
from pipelines.config import Settings

REPO = Path(__file__).resolve().parents[1]


@dataclass
class RunLake:
    settings: Settings
    answers: dict
    rules: Path


def spreading_rules(folder: Path) -> Path:
    """The shipped rules with tax spread in proportion to cost and support spread evenly."""
    text = DEFAULT_RULES.read_text()
    for kind, strategy in (("tax", "proportional"), ("support", "even")):
        assert f"    {kind}: keep\n" in text
        text = text.replace(f"    {kind}: keep\n", f"    {kind}: {strategy}\n", 1)
    path = folder / "spreading_rules.yaml"
    path.write_text(text)
    return path


def run_lake(tmp_path_factory: pytest.TempPathFactory) -> RunLake:
    fixtures, answers = company_fixtures(tmp_path_factory)
    root = tmp_path_factory.getbasetemp() / "report_lake"
    home = root / "home"
    rules = root / "spreading_rules.yaml"
    done = root / ".complete"
    if not done.exists():
        root.mkdir(parents=True, exist_ok=True)
        rules = spreading_rules(root)
        env = {
            **os.environ,
            "MLCOST_HOME": str(home),
            "DAGSTER_HOME": str(home / "dagster_home"),
            "MLCOST_CUR_SOURCE": str(fixtures / "cur2"),
            "MLCOST_GPU_SOURCE": str(fixtures / "gpu"),
            "MLCOST_PREDICTIONS_SOURCE": str(fixtures / "predictions"),
            "MLCOST_RULES": str(rules),
        }
        proc = subprocess.run(
            [sys.executable, "-m", "pipelines.cli", "run"], env=env, cwd=REPO, capture_output=True, text=True
        )
        assert proc.returncode == 0, proc.stdout + proc.stderr
        done.touch()
    settings = Settings(
        home=home,
        cur_source=str(fixtures / "cur2"),
        gpu_source=str(fixtures / "gpu"),
        predictions_source=str(fixtures / "predictions"),
        rules_path=rules,
    )
    return RunLake(settings, answers, rules)
