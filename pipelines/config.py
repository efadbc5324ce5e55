"""Settings read from the environment in one place (MLCOST_HOME, sources, limits)."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent


def _env(name: str, default: str | None = None) -> str | None:
    value = os.environ.get(name, "").strip()
    return value or default


@dataclass(frozen=True)
class Settings:
    """Where data lives and where it comes from. Built from environment variables by ``Settings.from_env``."""

    home: Path
    cur_source: str | None = None
    gpu_source: str | None = None
    predictions_source: str | None = None
    s3_endpoint_url: str | None = None
    rules_path: Path | None = None  # None: the shipped pipelines/attribution/default_rules.yaml
    gpu_timezone: str = "UTC"  # zone of GPU log timestamps written without one (nvidia-smi host-local time)
    eta_basis: str = "observed"  # observed: unobserved GPU time is not idle; allocated: it counts as idle
    history_versions: int = 5  # superseded versions of a restated billing period kept under lake/_history
    duckdb_memory_limit: str = "2GB"
    duckdb_threads: int = 2

    @classmethod
    def from_env(cls) -> Settings:
        home = Path(_env("MLCOST_HOME", str(REPO_ROOT / "data"))).resolve()
        return cls(
            home=home,
            cur_source=_env("MLCOST_CUR_SOURCE"),
            gpu_source=_env("MLCOST_GPU_SOURCE"),
            predictions_source=_env("MLCOST_PREDICTIONS_SOURCE"),
            s3_endpoint_url=_env("MLCOST_S3_ENDPOINT_URL"),
            rules_path=Path(_env("MLCOST_RULES")) if _env("MLCOST_RULES") else None,
            gpu_timezone=_env("MLCOST_GPU_TIMEZONE", "UTC"),
            eta_basis=_env("MLCOST_ETA_BASIS", "observed"),
            history_versions=int(_env("MLCOST_HISTORY_VERSIONS", "5")),
            duckdb_memory_limit=_env("MLCOST_DUCKDB_MEMORY_LIMIT", "2GB"),
            duckdb_threads=int(_env("MLCOST_DUCKDB_THREADS", "2")),
        )

    @property
    def lake(self) -> Path:
        return self.home / "lake"

    @property
    def warehouse(self) -> Path:
        return self.home / "warehouse.duckdb"

    @property
    def staging(self) -> Path:
        return self.home / "staging"

    @property
    def tmp(self) -> Path:
        return self.home / "tmp"
