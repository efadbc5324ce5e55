"""The rows a format parser collects from one file, before resources and intervals are settled."""

from __future__ import annotations

import csv
import logging
import math
import re
from dataclasses import dataclass, field
from functools import cache, lru_cache
from pathlib import Path

import polars as pl

from pipelines.file_reading.skipped import SkippedLines
from pipelines.file_reading.timestamps import WindowDays

log = logging.getLogger(__name__)

GR_ENGINE_ACTIVE = "gr_engine_active"
GPU_UTIL = "gpu_util"
SM_ACTIVE = "sm_active"
# Power draw as a share of the GPU's power limit: a second activity signal (eta_power), not a time fraction.
POWER = "power"
METRICS = (GR_ENGINE_ACTIVE, GPU_UTIL, SM_ACTIVE, POWER)
POWER_LIMITS_FILE = Path(__file__).resolve().parent.parent / "reference" / "gpu_power_limits.csv"

SOURCE_FORMATS = (
    "dcgm_prometheus",
    "dcgm_csv",
    "nvidia_smi",
    "cloudwatch_json",
    "cloudwatch_csv",
    "sagemaker_json",
    "sagemaker_csv",
)

# A MIG-capable GPU (A100, H100, ...) has 7 compute slices; a MIG profile "3g.20gb" holds 3 of them.
MIG_SLICES = 7
_MIG_PROFILE = re.compile(r"^([1-7])g\.")


def mig_slices(profile: str | None) -> int | None:
    """Compute slices of a MIG profile (``3g.20gb`` -> 3, ``1g.10gb+me`` -> 1); None if not a MIG profile."""
    m = _MIG_PROFILE.match((profile or "").strip())
    return int(m[1]) if m else None


@cache
def _power_limits() -> tuple[tuple[str, float], ...]:
    with POWER_LIMITS_FILE.open(newline="") as fh:
        rows = [(r["gpu_model_contains"].lower(), float(r["power_limit_watts"])) for r in csv.DictReader(fh)]
    # The longest name first, so that "L40S" is tried before "L4".
    return tuple(sorted(rows, key=lambda r: -len(r[0])))


def reference_power_limit(gpu_model: str | None) -> float | None:
    """The board power limit (W) of a GPU model from pipelines/reference/gpu_power_limits.csv, None if unknown."""
    if not gpu_model:
        return None
    name = gpu_model.lower()
    return next((watts for pattern, watts in _power_limits() if pattern in name), None)


def parse_watts(text: object) -> float | None:
    """A power reading (``250.50 W``, ``250.5``), None when missing, not a number or not positive."""
    if text is None:
        return None
    value = parse_number(str(text).strip().removesuffix("W").strip())
    return value if value is not None and value >= 0 else None


# Interval of a series that shows no gap of its own (a single sample, in a file of single samples):
# the exporter's default scrape interval, nvidia-smi's usual `-l 1`, CloudWatch's standard 1-minute period.
DEFAULT_INTERVAL_SECONDS = {
    "dcgm_prometheus": 30.0,
    "dcgm_csv": 30.0,
    "nvidia_smi": 1.0,
    "cloudwatch_json": 60.0,
    "cloudwatch_csv": 60.0,
    "sagemaker_json": 60.0,
    "sagemaker_csv": 60.0,
}

# Values that nvidia-smi and exporters write when a reading is missing.
MISSING_MARKERS = frozenset({"", "n/a", "[n/a]", "na", "nan", "none", "null", "-"})

RAW_SCHEMA = {
    "ts_us": pl.Int64,
    "explicit_resource": pl.Utf8,
    "host": pl.Utf8,
    "provider_id": pl.Utf8,
    "gpu_index": pl.Int32,
    "gpu_uuid": pl.Utf8,
    "gpu_model": pl.Utf8,
    "metric": pl.Utf8,
    "value": pl.Float64,
    "period_seconds": pl.Float64,
    "period_start": pl.Boolean,
    "divide_by_gpu_count": pl.Boolean,
    "gpu_count": pl.Int32,
    "source_format": pl.Utf8,
    "line": pl.Int64,
    "mig_instance": pl.Utf8,
    "mig_profile": pl.Utf8,
    "namespace": pl.Utf8,
    "pod": pl.Utf8,
    "container": pl.Utf8,
}


# Logs repeat the same cells (GPU names, indexes, "0 %") on every line: parsing each distinct cell once
# makes reading a day of 1-second samples several times faster.
_CELL_CACHE = 65536


@lru_cache(maxsize=_CELL_CACHE)
def _clean_str(s: str) -> str | None:
    s = s.strip()
    if s.lower() in MISSING_MARKERS or (s.startswith("[") and s.endswith("]")):
        return None
    return s


def clean(text: object) -> str | None:
    """A label or cell value stripped, with empty strings and N/A markers as None."""
    if text is None:
        return None
    return _clean_str(text if isinstance(text, str) else str(text))


def parse_int(text: object) -> int | None:
    """An integer cell (GPU index, GPU count), None when missing or not an integer."""
    if text is None or isinstance(text, bool):
        return None
    if isinstance(text, int):
        return text
    return _parse_int_str(str(text))


@lru_cache(maxsize=_CELL_CACHE)
def _parse_int_str(text: str) -> int | None:
    s = _clean_str(text)
    if s is None:
        return None
    try:
        value = float(s)
    except ValueError:
        return None
    return int(value) if math.isfinite(value) and value == int(value) else None


def parse_number(text: object) -> float | None:
    """A reading with an optional unit (``95 %``, ``95``); None when missing or not a finite number."""
    if text is None or isinstance(text, bool):
        return None
    if isinstance(text, int | float):
        return float(text) if math.isfinite(text) else None
    return _parse_number_str(str(text))


@lru_cache(maxsize=_CELL_CACHE)
def _parse_number_str(text: str) -> float | None:
    s = _clean_str(text)
    if s is None:
        return None
    try:
        value = float(s.removesuffix("%").strip())
    except ValueError:
        return None
    return value if math.isfinite(value) else None


@dataclass
class SampleRows:
    """The samples read from one file (tuples in ``RAW_SCHEMA`` order) and the count of skipped lines."""

    path: str
    records: list[tuple] = field(default_factory=list)
    skipped_lines: SkippedLines = field(init=False)
    # [start, end) in UTC microseconds: samples outside are not kept (a read of some days), only counted.
    window: tuple[int, int] | None = None
    outside_window: int = 0

    def __post_init__(self) -> None:
        self.skipped_lines = SkippedLines(self.path)
        self._first_problem: str | None = None
        self._days = WindowDays(*self.window) if self.window is not None else None

    def outside_by_date(self, timestamp: str) -> bool:
        """True (and counted) when a timestamp's leading date alone puts it outside the window: skip it unparsed."""
        if self._days is not None and self._days.surely_outside(timestamp):
            self.outside_window += 1
            return True
        return False

    def outside(self, ts_us: int) -> bool:
        """True (and counted) for a sample time outside the window of the read: the caller skips the line."""
        if self.window is not None and not self.window[0] <= ts_us < self.window[1]:
            self.outside_window += 1
            return True
        return False

    @property
    def skipped(self) -> int:
        """Lines (or values) skipped as unreadable."""
        return self.skipped_lines.count

    @property
    def first_problem(self) -> str | None:
        """Where and what the first skipped line's problem was (``line 3: ...``)."""
        return self._first_problem

    def add(
        self,
        *,
        ts_us: int,
        metric: str,
        value: float,
        source_format: str,
        host: str | None = None,
        gpu_index: int | None = None,
        gpu_uuid: str | None = None,
        gpu_model: str | None = None,
        explicit_resource: str | None = None,
        provider_id: str | None = None,
        period_seconds: float | None = None,
        period_start: bool = False,
        divide_by_gpu_count: bool = False,
        gpu_count: int | None = None,
        line: int | None = None,
        mig_instance: str | None = None,
        mig_profile: str | None = None,
        namespace: str | None = None,
        pod: str | None = None,
        container: str | None = None,
    ) -> None:
        """Record one sample; ``value`` is already a 0–1 ratio (before any division by the GPU count)."""
        self.records.append(
            (
                ts_us,
                explicit_resource,
                host,
                provider_id,
                gpu_index,
                gpu_uuid,
                gpu_model,
                metric,
                value,
                period_seconds,
                period_start,
                divide_by_gpu_count,
                gpu_count,
                source_format,
                line,
                mig_instance,
                mig_profile,
                namespace,
                pod,
                container,
            )
        )

    def skip(self, where: str, problem: str, count: int = 1) -> None:
        """Count ``count`` unreadable lines (or values); the first problem is kept for the log and errors."""
        if self._first_problem is None:
            self._first_problem = f"{where}: {problem}"
            log.warning("%s, %s: %s (line skipped and counted)", self.path, where, problem)
        line = int(where[5:]) if where.startswith("line ") and where[5:].isdigit() else None
        self.skipped_lines.add(problem, line=line, where=None if line is not None else where, count=count)

    def __len__(self) -> int:
        return len(self.records)

    def frame(self) -> pl.DataFrame:
        """The collected rows as a frame with ``RAW_SCHEMA``."""
        return pl.DataFrame(self.records, schema=RAW_SCHEMA, orient="row")
