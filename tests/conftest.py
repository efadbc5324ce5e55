"""Shared test fixtures: a fresh MLCOST_HOME per test, a compute connection, and the real-data folder."""

from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import pytest

from pipelines.config import Settings
from pipelines.gpu.efficiency import (
    compute_device_efficiency,
    compute_efficiency,
    gpu_counts_from_bill,
    publish_samples,
)
from pipelines.gpu.efficiency import read_source as read_gpu_source
from pipelines.gpu.pods import compute_pod_costs
from pipelines.predictions.cost import compute_cost_per_prediction, publish_predictions
from pipelines.predictions.cost import read_source as read_predictions_source
from pipelines.storage import lake

REPO = Path(__file__).resolve().parents[1]
REALDATA = REPO.parent / "shared" / "realdata"


def pytest_configure(config):
    """Tests set their own sources and homes: drop the caller's MLCOST_* and DAGSTER_HOME (the Makefile exports
    the demo's, pointing at fixtures that a fresh clone has not generated yet), so subprocesses inherit none."""
    for name in [n for n in os.environ if n.startswith("MLCOST_") or n == "DAGSTER_HOME"]:
        del os.environ[name]


def compute_gpu_and_prediction_days(con, settings: Settings, first: date, last: date):
    """The daily tables after cost_attribution (GPU samples and efficiency, pod costs, predictions, cost per
    prediction) for first..last, as the daily job computes them, without Dagster. Returns what the GPU logs and the
    request counts read (`rejected_files`, ...), for the caller to check."""
    lake.register_views(con, settings, ["cost_attribution"])
    samples = read_gpu_source(settings, gpu_counts_from_bill(con))
    publish_samples(con, settings, samples, first, last)
    compute_efficiency(con, settings, first, last)
    compute_device_efficiency(con, settings, first, last)
    compute_pod_costs(con, settings, first, last)
    predictions = read_predictions_source(settings)
    publish_predictions(con, settings, predictions, first, last)
    compute_cost_per_prediction(con, settings, first, last)
    return samples, predictions


@dataclass(frozen=True)
class FileDelivery:
    """A delivery made of given files (what deliveries.discover_deliveries returns), for tests."""

    files: tuple[Path, ...]
    delivery_id: str = "test"
    fingerprint: str = "test"
    billing_period: date | None = None
    manifest: Path | None = None
    source: str = "test"
    flavour: str | None = None


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(home=tmp_path / "home")


@pytest.fixture
def con(settings: Settings):
    connection = lake.connect(settings)
    yield connection
    connection.close()


def realdata(*parts: str) -> Path:
    """A file of ../shared/realdata, or skip the test with the reason when that folder is absent."""
    path = REALDATA.joinpath(*parts)
    if not path.exists():
        pytest.skip(
            f"real data not available: {path} is absent (it lives in the shared folder beside the repo)"
        )
    return path


# --- the fixtures' warehouse, shared by the analyst-access and `mlcost sql` sandbox tests ---


@pytest.fixture(scope="module")
def warehouse(tmp_path_factory) -> tuple[Settings, dict]:
    """The model company in a warehouse, its 2026-10 restated (test_examples.analyst_warehouse)."""
    from test_examples import analyst_warehouse

    return analyst_warehouse(tmp_path_factory)


@pytest.fixture
def mlcost_sql(warehouse, monkeypatch, capsys):
    """Run `mlcost sql ...` in this process on the fixtures' warehouse; returns (status, stdout, stderr)."""
    from pipelines.cli import main

    settings, _ = warehouse
    monkeypatch.setenv("MLCOST_HOME", str(settings.home))

    def run(*args: str) -> tuple[int, str, str]:
        capsys.readouterr()
        status = main(["sql", *args])
        out, err = capsys.readouterr()
        return status, out, err

    return run
