"""The one Dagster resource: where the lake lives and where the sources are, read from the environment."""


from pathlib import Path

from dagster import ConfigurableResource

from pipelines.attribution.rules import Rules, load_rules
from pipelines.config import Settings


class MlcostResource(ConfigurableResource):
    """Settings for every asset; defaults come from MLCOST_* environment variables (pipelines/config.py)."""

    home: str
    cur_source: str | None = None
    gpu_source: str | None = None
    predictions_source: str | None = None
    s3_endpoint_url: str | None = None
    rules_path: str | None = None
    gpu_timezone: str = "UTC"
    eta_basis: str = "observed"
    history_versions: int = 5
    duckdb_memory_limit: str = "2GB"
    duckdb_threads: int = 2

    @classmethod
    def from_settings(cls, settings: Settings) -> "MlcostResource":
        return cls(
            home=str(settings.home),
            cur_source=settings.cur_source,
            gpu_source=settings.gpu_source,
            predictions_source=settings.predictions_source,
            s3_endpoint_url=settings.s3_endpoint_url,
            rules_path=str(settings.rules_path) if settings.rules_path else None,
            gpu_timezone=settings.gpu_timezone,
            eta_basis=settings.eta_basis,
            history_versions=settings.history_versions,
            duckdb_memory_limit=settings.duckdb_memory_limit,
            duckdb_threads=settings.duckdb_threads,
        )

    def settings(self) -> Settings:
        return Settings(
            home=Path(self.home),
            cur_source=self.cur_source,
            gpu_source=self.gpu_source,
            predictions_source=self.predictions_source,
            s3_endpoint_url=self.s3_endpoint_url,
            rules_path=Path(self.rules_path) if self.rules_path else None,
            gpu_timezone=self.gpu_timezone,
            eta_basis=self.eta_basis,
            history_versions=self.history_versions,
            duckdb_memory_limit=self.duckdb_memory_limit,
            duckdb_threads=self.duckdb_threads,
        )

    def rules(self) -> Rules:
        return load_rules(self.rules_path)
