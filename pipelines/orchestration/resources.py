"""The one Dagster resource: where the lake lives and where the sources are, read from the environment."""

from dataclasses import fields
from datetime import date
from pathlib import Path
from typing import Any

from dagster import ConfigurableResource

from pipelines.config import Settings

_PATHS = {"home", "rules_path", "budgets_path"}


class MlcostResource(ConfigurableResource):
    """Every pipelines.config.Settings field, as plain values the Dagster UI can show (built from MLCOST_*)."""

    home: str
    cur_source: str | None = None
    gpu_source: str | None = None
    predictions_source: str | None = None
    s3_endpoint_url: str | None = None
    rules_path: str | None = None
    gpu_timezone: str = "UTC"
    eta_basis: str = "observed"
    history_versions: int = 5
    predictions_per_invocation: str | None = None
    endpoint_map: str | None = None
    duckdb_memory_limit: str = "2GB"
    duckdb_threads: int = 2
    predictions_timezone: str | None = None
    partition_start: str | None = None
    pod_workloads: str | None = None
    budgets_path: str | None = None
    latency_budget_ms: float = 200.0
    lake_uri: str | None = None
    dagster_storage: str | None = None
    executor: str = "in_process"
    max_workers: int = 2

    @classmethod
    def from_settings(cls, settings: Settings) -> "MlcostResource":
        values: dict[str, Any] = {f.name: getattr(settings, f.name) for f in fields(Settings)}
        kwargs: dict[str, Any] = {k: str(v) if isinstance(v, Path | date) else v for k, v in values.items()}
        return cls(**kwargs)

    def settings(self) -> Settings:
        values: dict[str, Any] = {f.name: getattr(self, f.name) for f in fields(Settings)}
        kwargs: dict[str, Any] = {k: Path(v) if k in _PATHS and v else v for k, v in values.items()}
        return Settings(**kwargs)
