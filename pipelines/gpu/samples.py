"""Front door of the GPU log readers: a file or folder of logs in, one normalized ``gpu_samples`` frame out.

Each file's format is detected from its content (``pipelines.gpu.detect``); the readers are in
``pipelines.gpu.dcgm``, ``pipelines.gpu.nvidia_smi`` and ``pipelines.gpu.cloudwatch``; the resource
mapping rules are in ``pipelines.gpu.resources``. A file that cannot be read as a whole is rejected with
an :class:`~pipelines.errors.InputError` message and the others are still read; unreadable lines are counted.

A sample at ``ts`` stands for [ts - interval_seconds, ts). A series is one (resource_id, host, gpu_index,
gpu_uuid, mig_instance, metric); its nominal interval is the period the source states (CloudWatch) or else the
typical gap between its samples (the most common gap, refined by the median of the gaps near it) (else the file's
median gap, else the format's default). ``interval_seconds`` is the gap to the previous sample when that gap is
no longer than :func:`observed_gap_limit` of the nominal interval (a loop script's jitter: a 0.3 s loop logs
with gaps of 0.2-1.6 s), else the nominal interval, so a hole in a log stays unobserved; a series' first
sample gets the nominal interval. Samples repeated in a series at the same ``ts`` (overlapping exports) are
kept once, the first file in path order winning.

A MIG instance (DCGM labels ``GPU_I_ID``/``GPU_I_PROFILE``) is a series of its own; ``gpu_share`` is its
profile's compute slices out of 7 (``3g.20gb`` is 3/7 of the GPU), 1 for a whole GPU.

Kubernetes (DCGM ``pod``/``namespace``/``container`` labels): a sample copied once per pod holding the GPU (the
exporter's virtual GPUs) is kept once per pod, each copy with ``holders`` = the number of copies, so GPU time summed
over the copies divided by ``holders`` counts once; the interval is the series' gap between distinct times.
"""

from __future__ import annotations

import csv
import logging
import numbers
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Any

import polars as pl

from pipelines.errors import InputError
from pipelines.file_reading.content import decode_text, read_bytes
from pipelines.file_reading.listing import list_data_files
from pipelines.file_reading.skipped import SkippedLines
from pipelines.file_reading.timestamps import TimestampParser, may_hold_times_within, to_us
from pipelines.gpu import cloudwatch, dcgm, detect, nvidia_smi
from pipelines.gpu.records import DEFAULT_INTERVAL_SECONDS, MIG_SLICES, POWER, SampleRows
from pipelines.gpu.resources import MAPPING_FILE_NAME, ResourceResolver

log = logging.getLogger(__name__)

SAMPLES_SCHEMA: dict[str, pl.DataType | type[pl.DataType]] = {
    "ts": pl.Datetime("us"),
    "resource_id": pl.Utf8,
    "host": pl.Utf8,
    "gpu_index": pl.Int32,
    "gpu_uuid": pl.Utf8,
    "gpu_model": pl.Utf8,
    "metric": pl.Utf8,
    "value": pl.Float64,
    "interval_seconds": pl.Float64,
    "source_file": pl.Utf8,
    "source_format": pl.Utf8,
    "mig_instance": pl.Utf8,
    "mig_profile": pl.Utf8,
    "gpu_share": pl.Float64,
    "namespace": pl.Utf8,
    "pod": pl.Utf8,
    "container": pl.Utf8,
    "holders": pl.Int32,
}
# A Kubernetes pod that holds the GPU at a sample (DCGM labels). Not part of a series: several pods can hold one GPU
# at one time (the exporter's virtual GPUs under time-slicing copy the GPU's sample once per pod).
HOLDER_KEY = ["namespace", "pod", "container"]
SERIES_KEY = ["resource_id", "host", "gpu_index", "gpu_uuid", "mig_instance", "metric"]
SORT_KEY = ["resource_id", "gpu_index", "metric", "mig_instance", "ts", "host", "gpu_uuid"]
# A gap between two samples of a series counts as observed when it is at most OBSERVED_GAP_MULTIPLE times the
# series' typical spacing and at most OBSERVED_GAP_SLACK_SECONDS longer than it: loop scripts and exporters are
# late by scheduling jitter (absolute, up to about a second), not by a share of their period. A longer gap is a
# hole: its sample stands for the typical spacing before it, the rest stays unobserved.
OBSERVED_GAP_MULTIPLE = 6.0
OBSERVED_GAP_SLACK_SECONDS = 2.0
# A read of some days also reads this much before and after them: a day's first sample takes its interval from
# the gap to the sample before it (at most the series' typical spacing + 2 s), and the first sample after the
# day may stand for its last seconds. An hour covers loggers that sample up to hourly; a CloudWatch datapoint is
# kept by its period's start, which is the start of the interval it stands for, whatever the period.
READ_MARGIN = timedelta(hours=1)
# A file last modified before the window by more than this holds no sample of it (a logger writes a sample when
# it takes it; this is room for a host's clock running ahead of the file system's).
MTIME_SLACK = timedelta(days=1)
# A ratio may exceed 1 by float rounding of a percentage (e.g. a sum over GPUs divided back), not by more.
_RATIO_TOLERANCE = 1e-9


@dataclass
class GpuReadResult:
    """The samples of a read, and what happened to each file."""

    samples: pl.DataFrame
    files_read: list[str] = field(default_factory=list)
    skipped_lines: dict[str, int] = field(default_factory=dict)
    rejected_files: dict[str, str] = field(default_factory=dict)
    # Files that are no log (hosts.csv, .header, job markers, docs), with why (pipelines.file_reading.listing).
    ignored_files: dict[str, str] = field(default_factory=dict)
    # A read of some days: files not parsed (or without a sample) because they hold no sample of those days.
    files_outside_days: dict[str, str] = field(default_factory=dict)
    # The first skipped lines of each file with any, named (pipelines.file_reading.skipped).
    skip_reasons: dict[str, list[str]] = field(default_factory=dict)
    duplicate_samples: int = 0  # samples dropped as repeats of a series' sample at the same ts


def read_gpu_samples(
    source: str | Path,
    *,
    resource_map: dict[str, str] | None = None,
    mapping_file: Path | None = None,
    timezone: str = "UTC",
    gpu_counts: dict[str, int] | None = None,
    days: tuple[date, date] | None = None,
) -> GpuReadResult:
    """Read every GPU log under ``source`` (a file or a folder, walked recursively) into ``gpu_samples``.

    ``timezone`` is the IANA zone of timestamps that carry none (nvidia-smi). Rejected files are listed in
    ``rejected_files`` with the reason; only a bad argument or mapping file raises InputError.

    ``days`` (first, last) reads only what can bear on the samples whose interval starts on those days: the
    samples from ``READ_MARGIN`` before the first day to ``READ_MARGIN`` after the last (the gaps that set each
    sample's interval, CloudWatch periods moved to their end). A file that cannot hold a time in that window (by
    its modification time, or because every date and epoch time in its name and text lies outside) is not
    parsed (``files_outside_days``); the rows of the others outside it are dropped as they are read.
    """
    result, _ = _read(Path(source), resource_map, mapping_file, timezone, gpu_counts, days)
    return result


def read_gpu_file(
    path: str | Path,
    *,
    resource_map: dict[str, str] | None = None,
    mapping_file: Path | None = None,
    timezone: str = "UTC",
    gpu_counts: dict[str, int] | None = None,
) -> GpuReadResult:
    """Read one GPU log file; InputError (naming the file and the problem) if it is rejected."""
    path = Path(path)
    if path.is_dir():
        raise InputError(path, "is a folder: use read_gpu_samples for folders")
    result, errors = _read(path, resource_map, mapping_file, timezone, gpu_counts, None)
    if errors:
        raise next(iter(errors.values()))
    return result


def _not_a_log(path: Path) -> str | None:
    """Why a file of a GPU log folder is no log of its own (it describes others), None for a log."""
    if path.name == MAPPING_FILE_NAME:
        return "a host,resource_id mapping file"
    if path.name.endswith(".header"):
        return "the header of a noheader nvidia-smi log"
    if cloudwatch.is_sidecar(path):
        return "a saved GetMetricData request (it names the series of a results file)"
    return None


def list_log_files(source: Path, mapping_file: Path | None = None) -> tuple[list[Path], dict[str, str]]:
    """The log files of ``source`` in path order, and the files left out with why (pipelines.file_reading.listing)."""
    if not source.exists():
        raise InputError(source, "GPU log source does not exist")
    return list_data_files(source, mapping_file=mapping_file, also_ignored=_not_a_log)


def read_window(days: tuple[date, date]) -> tuple[int, int]:
    """[start, end) in UTC microseconds of the samples a read of ``days`` needs (see read_gpu_samples)."""
    first = datetime.combine(days[0], time(), tzinfo=UTC) - READ_MARGIN
    end = datetime.combine(days[1], time(), tzinfo=UTC) + timedelta(days=1) + READ_MARGIN
    return to_us(first), to_us(end)


def _read(source, resource_map, mapping_file, timezone, gpu_counts, days):
    times = TimestampParser(timezone)
    files, ignored = list_log_files(source, mapping_file)
    resolver = ResourceResolver(source, resource_map, mapping_file)
    for path in files:
        resolver.preload(path)  # a broken hosts.csv stops the read: it would misassign every file below it
    result = GpuReadResult(samples=pl.DataFrame(schema=SAMPLES_SCHEMA), ignored_files=ignored)
    window = read_window(days) if days is not None else None
    errors: dict[str, InputError] = {}
    frames = []
    for path in files:
        try:
            read = _guarded_read_file(path, times, resolver, dict(gpu_counts or {}), window)
        except InputError as exc:
            errors[str(path)] = exc
            result.rejected_files[str(path)] = str(exc)
            log.warning("GPU log rejected: %s", exc)
            continue
        if isinstance(read, str):
            result.files_outside_days[str(path)] = read
            continue
        frame, skipped = read
        frames.append(frame)
        result.files_read.append(str(path))
        result.skipped_lines[str(path)] = skipped.count
        if skipped.count:
            result.skip_reasons[str(path)] = skipped.messages()
    if frames:
        result.samples, result.duplicate_samples = finalize(pl.concat(frames))
    return result, errors


_PARSERS = {
    detect.PROMETHEUS_TEXT: dcgm.parse_prometheus_text,
    detect.DCGM_CSV: dcgm.parse_prometheus_csv,
    detect.NVIDIA_SMI: nvidia_smi.parse_nvidia_smi,
    detect.CLOUDWATCH_CSV: cloudwatch.parse_cloudwatch_csv,
}
_JSON_PARSERS: dict[str, Callable[[Path, Any, TimestampParser, tuple[int, int] | None], SampleRows]] = {
    detect.PROMETHEUS_JSON: dcgm.parse_prometheus_json,
    detect.CLOUDWATCH_JSON: cloudwatch.parse_cloudwatch_json,
}


def _guarded_read_file(
    path: Path,
    times: TimestampParser,
    resolver: ResourceResolver,
    gpu_counts: dict[str, int],
    window: tuple[int, int] | None,
) -> tuple[pl.DataFrame, SkippedLines] | str:
    try:
        return _read_file(path, times, resolver, gpu_counts, window)
    except InputError:
        raise
    except (
        ValueError,
        TypeError,
        KeyError,
        IndexError,
        AttributeError,
        csv.Error,
        pl.exceptions.PolarsError,
    ) as exc:
        # Input shaped in a way no reader foresaw: reject this file with the reason instead of
        # aborting the whole read; the traceback goes to the log for whoever maintains the readers.
        log.exception("unexpected error reading GPU log %s", path)
        raise InputError(path, f"cannot be read: {type(exc).__name__}: {exc}") from exc


def _read_file(
    path: Path,
    times: TimestampParser,
    resolver: ResourceResolver,
    gpu_counts: dict[str, int],
    window: tuple[int, int] | None,
) -> tuple[pl.DataFrame, SkippedLines] | str:
    """The file's samples and skipped lines, or (a read of some days) why the file holds none of them."""
    if window is not None:
        modified = _modified_us(path)
        if modified is not None and modified + MTIME_SLACK // timedelta(microseconds=1) < window[0]:
            return "last modified before the days read: it holds no sample of them"
    text = decode_text(path, read_bytes(path))
    if window is not None and not may_hold_times_within(f"{path.name}\n{text}", *window):
        return "every time in its name and content lies outside the days read"
    kind, payload = detect.detect(path, text)
    rows: SampleRows
    if kind in _JSON_PARSERS:
        rows = _JSON_PARSERS[kind](path, payload, times, window)
    else:
        rows = _PARSERS[kind](path, text, times, window)
    frame = rows.frame()
    if frame.is_empty() and rows.outside_window and not rows.skipped:
        return f"its {rows.outside_window} samples lie outside the days read"
    if frame.is_empty():
        if rows.skipped:
            raise InputError(
                path,
                f"no readable sample: all {rows.skipped} sample lines were unreadable ({rows.first_problem})",
            )
        raise InputError(
            path, "no GPU utilization samples (GR_ENGINE_ACTIVE, GPU_UTIL, SM_ACTIVE, utilization.gpu)"
        )
    if (frame["metric"] == POWER).all():
        raise InputError(
            path,
            "no GPU utilization samples (GR_ENGINE_ACTIVE, GPU_UTIL, SM_ACTIVE, utilization.gpu): power draw alone"
            " does not say when the GPU was busy",
        )
    frame = _map_resources(path, frame, resolver)
    frame = _divide_summed(path, frame, gpu_counts)
    frame = _drop_out_of_range(path, frame, rows)
    if frame.is_empty():
        raise InputError(path, f"no readable sample: all values are outside 0-100 % ({rows.first_problem})")
    _check_gpus_distinguishable(path, frame)
    frame = frame.with_columns(
        pl.col("ts_us").cast(pl.Datetime("us")).alias("ts"),
        pl.lit(str(path)).alias("source_file"),
    )
    return frame, rows.skipped_lines


def _modified_us(path: Path) -> int | None:
    try:
        return round(path.stat().st_mtime * 1_000_000)
    except OSError:
        return None


def _map_resources(path: Path, frame: pl.DataFrame, resolver: ResourceResolver) -> pl.DataFrame:
    ids = ["explicit_resource", "host", "provider_id"]
    combos = frame.select(ids).unique(maintain_order=True)
    resolved = [resolver.resolve(path, *combo) for combo in combos.iter_rows()]
    unmapped = [combo for combo, rid in zip(combos.iter_rows(), resolved, strict=True) if rid is None]
    if unmapped:
        hosts = sorted({str(h) for _, h, _ in unmapped if h})
        what = f"host {', '.join(hosts)}" if hosts else "its samples (no host in the file)"
        raise InputError(
            path,
            f"cannot map {what} to a resource: no instance_id/InstanceId/resource_id/EndpointName"
            " column, not in resource_map or a host,resource_id mapping file, no providerID label and no"
            " i-... in the path",
        )
    combos = combos.with_columns(pl.Series("resource_id", resolved, dtype=pl.Utf8))
    return frame.join(combos, on=ids, how="left", nulls_equal=True, maintain_order="left")


def _divide_summed(path: Path, frame: pl.DataFrame, gpu_counts: dict[str, int]) -> pl.DataFrame:
    summed = frame.filter(pl.col("divide_by_gpu_count"))
    if summed.is_empty():
        return frame
    if (summed["gpu_count"] < 1).any():
        raise InputError(path, "gpu_count must be a positive integer", column="gpu_count")
    counts: dict[str, int] = {}
    missing = []
    lowered = {str(k).lower(): v for k, v in gpu_counts.items()}
    for resource in summed.filter(pl.col("gpu_count").is_null())["resource_id"].unique().sort():
        # Endpoint names are case-insensitive and bills name endpoints by ARN: accept either spelling.
        name = resource.rsplit("/", 1)[-1]
        n = next(
            (c for c in (gpu_counts.get(resource), gpu_counts.get(name), lowered.get(name.lower())) if c),
            None,
        )
        if isinstance(n, numbers.Integral) and not isinstance(n, bool) and n >= 1:
            counts[resource] = int(n)
        else:
            missing.append(resource)
    if missing:
        raise InputError(
            path,
            f"GPUUtilization is summed over the instance's GPUs but the GPU count of {', '.join(missing)} is"
            f" unknown: pass gpu_counts={{{missing[0]!r}: n}} or add a gpu_count column",
        )
    divisor = pl.coalesce(
        pl.col("gpu_count"),
        pl.col("resource_id").replace_strict(counts, default=None, return_dtype=pl.Int32),
    )
    return frame.with_columns(
        pl.when(pl.col("divide_by_gpu_count")).then(pl.col("value") / divisor).otherwise(pl.col("value"))
    )


def _drop_out_of_range(path: Path, frame: pl.DataFrame, rows: SampleRows) -> pl.DataFrame:
    ok = pl.col("value").is_between(0.0, 1.0 + _RATIO_TOLERANCE)
    bad = frame.filter(~ok)
    if bad.is_empty():
        return frame
    first = bad.row(0, named=True)
    where = f"line {first['line']}" if first["line"] is not None else "sample"
    rows.skip(where, f"{first['metric']} of {first['value'] * 100:g} % is outside 0-100 %", bad.height)
    return frame.filter(ok).with_columns(pl.col("value").clip(0.0, 1.0))


def _check_gpus_distinguishable(path: Path, frame: pl.DataFrame) -> None:
    anonymous = frame.filter(pl.col("gpu_index").is_null() & pl.col("gpu_uuid").is_null())
    if anonymous.is_empty():
        return
    models = (
        anonymous.filter(pl.col("gpu_model").is_not_null())
        .group_by("resource_id", "host")
        .agg(pl.col("gpu_model").unique().sort())
        .filter(pl.col("gpu_model").list.len() > 1)
    )
    if not models.is_empty():
        names = models["gpu_model"][0].to_list()
        raise InputError(
            path,
            f"GPU models {' and '.join(names)} are mixed without a GPU index or UUID: their samples cannot be"
            " told apart (add index or uuid to --query-gpu)",
        )
    clashes = (
        anonymous.group_by("resource_id", "host", "metric", "ts_us")
        .agg(pl.col("value").n_unique().alias("values"), pl.col("line").min())
        .filter(pl.col("values") > 1)
    )
    if not clashes.is_empty():
        line = clashes.sort("line")["line"][0]
        raise InputError(
            path,
            "several GPUs report at the same time without a GPU index or UUID: their samples cannot be told"
            " apart (add index or uuid to the log)",
            line=line,
        )


def observed_gap_limit(nominal: float) -> float:
    """The longest gap (seconds) after a sample that still counts as observed, for a series' typical spacing."""
    return min(OBSERVED_GAP_MULTIPLE * nominal, nominal + OBSERVED_GAP_SLACK_SECONDS)


_observed_gap_limit = pl.min_horizontal(
    OBSERVED_GAP_MULTIPLE * pl.col("nominal"), pl.col("nominal") + OBSERVED_GAP_SLACK_SECONDS
)


def finalize(frame: pl.DataFrame) -> tuple[pl.DataFrame, int]:
    """Drop repeated samples, give each sample its interval, order the columns and rows of gpu_samples."""
    before = frame.height
    frame = frame.unique(subset=[*SERIES_KEY, "ts", *HOLDER_KEY], keep="first", maintain_order=True)
    duplicates = before - frame.height
    held = frame.select(pl.any_horizontal(pl.col(HOLDER_KEY).is_not_null().any())).item()
    first_copies = (
        frame.unique(subset=[*SERIES_KEY, "ts"], keep="first", maintain_order=True) if held else frame
    )
    timed = _timed(first_copies)
    if first_copies.height == frame.height:
        timed = timed.with_columns(pl.lit(1, dtype=pl.Int32).alias("holders"))
    else:
        # Several pods hold a GPU at one time: the intervals come from the series' distinct times, and each pod's
        # copy of a sample gets that sample's interval (and adjusted ts); `holders` counts the copies.
        copies = frame.select(*SERIES_KEY, pl.col("ts").alias("read_ts"), *HOLDER_KEY).with_columns(
            pl.len().over([*SERIES_KEY, "read_ts"]).cast(pl.Int32).alias("holders")
        )
        timed = timed.drop(HOLDER_KEY).join(copies, on=[*SERIES_KEY, "read_ts"], nulls_equal=True)
    samples = timed.select([pl.col(name).cast(dtype) for name, dtype in SAMPLES_SCHEMA.items()])
    return samples.sort([*SORT_KEY, *HOLDER_KEY], nulls_last=True, maintain_order=True), duplicates


def _timed(frame: pl.DataFrame) -> pl.DataFrame:
    """One sample per series and time with its interval; ``read_ts`` keeps the time as read."""
    frame = frame.sort([*SERIES_KEY, "ts"]).with_columns(pl.col("ts").alias("read_ts"))
    gap = pl.col("ts").diff().over(SERIES_KEY).dt.total_microseconds() / 1e6
    frame = frame.with_columns(gap.alias("gap"))
    default = pl.col("source_format").replace_strict(DEFAULT_INTERVAL_SECONDS, return_dtype=pl.Float64)
    # The nominal interval is the typical gap, found robustly: the most common gap (to 10 ms) and then the
    # median of the gaps near it. A plain median would double when half the samples are missing, and the first
    # sample of a series would then claim time before the log began.
    rounded = (pl.col("gap") * 100).round() / 100
    typical = (
        frame.filter(pl.col("gap") > 0)
        .with_columns(rounded.alias("rounded"))
        .group_by([*SERIES_KEY, "rounded"], maintain_order=True)
        .agg(pl.len().alias("n"), pl.col("gap"))
        .sort(["n", "rounded"], descending=[True, False], maintain_order=True)
        .group_by(SERIES_KEY, maintain_order=True)
        .first()
        .select(*SERIES_KEY, pl.col("gap").list.median().alias("series_nominal"))
    )
    frame = frame.join(typical, on=SERIES_KEY, how="left", nulls_equal=True)
    nominal = pl.coalesce(
        pl.col("period_seconds"),
        pl.col("series_nominal"),
        pl.col("gap").median().over("source_file"),
        default,
    )
    frame = frame.with_columns(nominal.alias("nominal"))
    frame = frame.with_columns(
        pl.when(pl.col("period_start"))
        .then(pl.col("ts") + pl.duration(microseconds=(pl.col("nominal") * 1e6).round().cast(pl.Int64)))
        .otherwise(pl.col("ts"))
        .alias("ts"),
        pl.when(pl.col("gap").is_not_null() & (pl.col("gap") <= _observed_gap_limit))
        .then(pl.col("gap"))
        .otherwise(pl.col("nominal"))
        .alias("interval_seconds"),
        # MIG: the number before "g" of the profile is the instance's compute slices out of the GPU's 7.
        pl.when(pl.col("mig_instance").is_null())
        .then(pl.lit(1.0))
        .otherwise(pl.col("mig_profile").str.extract(r"^(\d+)g", 1).cast(pl.Float64) / MIG_SLICES)
        .alias("gpu_share"),
    )
    return frame
