"""Settings read from the environment in one place (MLCOST_HOME, sources, limits)."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from pipelines.errors import InputError

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
    # Predictions per invocation (batching) per endpoint, as "endpoint=4,other=2"; unlisted endpoints count 1.
    predictions_per_invocation: str | None = None
    endpoint_map: str | None = None  # CSV endpoint,workload naming the workload of endpoints the bill cannot
    duckdb_memory_limit: str = "2GB"
    duckdb_threads: int = 2
    predictions_timezone: str | None = (
        None  # IANA zone of zone-less request-log / counter times; None: refuse them
    )

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
            predictions_per_invocation=_env("MLCOST_PREDICTIONS_PER_INVOCATION"),
            endpoint_map=_env("MLCOST_ENDPOINT_MAP"),
            duckdb_memory_limit=_env("MLCOST_DUCKDB_MEMORY_LIMIT", "2GB"),
            duckdb_threads=int(_env("MLCOST_DUCKDB_THREADS", "2")),
            predictions_timezone=_env("MLCOST_PREDICTIONS_TIMEZONE"),
        )

    def batching(self) -> dict[str, float]:
        """MLCOST_PREDICTIONS_PER_INVOCATION parsed: endpoint → predictions per invocation."""
        out: dict[str, float] = {}
        for item in (self.predictions_per_invocation or "").split(","):
            if not item.strip():
                continue
            name, sep, value = item.partition("=")
            try:
                out[name.strip()] = float(value)
            except ValueError:
                sep = ""
            if not sep or not name.strip() or out.get(name.strip(), 0) <= 0:
                raise InputError(
                    "MLCOST_PREDICTIONS_PER_INVOCATION", f"{item.strip()!r} is not endpoint=positive number"
                )
        return out

    def predictions_zone(self) -> str | None:
        """MLCOST_PREDICTIONS_TIMEZONE checked as an IANA zone name; ValueError names the bad value."""
        from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

        name = self.predictions_timezone
        if name is None:
            return None
        try:
            ZoneInfo(name)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(
                f"{name!r} is not an IANA time zone (e.g. UTC, Europe/Paris, America/New_York)"
            ) from None
        return name

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
