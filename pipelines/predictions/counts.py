"""Front door for prediction counts: read a file or folder of SageMaker invocation metrics, request logs,
interval counters and rate samples into one ``predictions`` table per UTC day and endpoint.

The format of each file is told from its content (see ``file_loading``); the conventions of each family are in
``sagemaker``, ``request_logs``, ``interval_counts`` and ``rate_samples``, the accepted header spellings and
status words in ``aliases``. Bad input is never dropped silently:

* a file is **rejected** (``rejected_files``, with an ``InputError`` message naming the file, the column
  and the problem) when it cannot be read as a whole: corrupt bytes, unknown format, a missing required
  column, broken JSON structure, or no usable line at all;
* a **line** with a bad value (unparseable or zone-less timestamp, negative / fractional / text count,
  unknown status, empty endpoint) is skipped and counted in ``skipped_lines``; the first few are named in
  ``warnings``.

The same endpoint and day measured by two families (SageMaker metrics and a request log of the same traffic)
would count every prediction twice, so per day and endpoint only one family is used, in the order SageMaker
metrics, interval counts, request logs, rate samples (the least exact: averages over a step), and the
overlap is reported in ``warnings``.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import cast

import polars as pl
import pyarrow as pa

from pipelines.errors import InputError
from pipelines.predictions import interval_counts, rate_samples, request_logs, sagemaker
from pipelines.predictions.file_loading import (
    ENDPOINT_ALIASES,
    LINE,
    TIMESTAMP_ALIASES,
    EmptyFile,
    JsonDocument,
    Table,
    discover_files,
    find_column,
    load_content,
    records_table,
)
from pipelines.predictions.file_rows import COUNTS, RATES, REQUEST_LOG, SAGEMAKER, FileRows, union_of_lists
from pipelines.predictions.value_parsing import UTC_DATETIME, resolve_zone, utc_date
from pipelines.predictions.workload_map import is_mapping_table, load_workload_map

log = logging.getLogger(__name__)

# Which family wins where two measured the same endpoint on the same day (lower is preferred).
FAMILY_PRECEDENCE = {SAGEMAKER: 0, COUNTS: 1, REQUEST_LOG: 2, RATES: 3}

DAILY_SCHEMA = {
    "usage_date": pl.Date,
    "endpoint": pl.Utf8,
    "workload": pl.Utf8,
    "invocations": pl.Int64,
    "failed_requests": pl.Int64,
    "predictions": pl.Float64,
    "source": pl.Utf8,
    "source_files": pl.Int64,
}

# Float: a rate sample holds a fraction of a request per interval; a day's total is rounded (see _daily).
INTERVAL_SCHEMA: dict[str, pl.DataType | type[pl.DataType]] = {
    "timestamp": UTC_DATETIME,
    "usage_date": pl.Date,
    "endpoint": pl.Utf8,
    "variant": pl.Utf8,
    "invocations": pl.Float64,
    "failed_requests": pl.Float64,
    "source": pl.Utf8,
    "source_files": pl.List(pl.Utf8),
}

FILE_SCHEMA = {
    "file": pl.Utf8,
    "family": pl.Utf8,
    "lines_read": pl.Int64,
    "lines_skipped": pl.Int64,
    "lines_unfinished": pl.Int64,
    "successful": pl.Float64,
    "first_problem": pl.Utf8,
}

_WARNINGS_PER_KIND = 10


@dataclass
class PredictionReadResult:
    """Daily prediction counts per endpoint, the interval rows they sum, and an account of every file."""

    daily: pl.DataFrame  # DAILY_SCHEMA, one row per usage_date × endpoint
    intervals: pl.DataFrame  # INTERVAL_SCHEMA, deduplicated; daily sums these
    files_read: list[str]
    skipped_lines: dict[str, int]  # only files with at least one skipped line
    rejected_files: dict[str, str]
    # Beyond the brief: what an audit needs to explain a number without rereading the inputs.
    warnings: list[str] = field(default_factory=list)  # named bad lines, conflicts, overlaps, notes
    conflicts: int = 0  # keys whose repeated copies disagreed (the larger / first was kept)
    duplicates: int = 0  # counter and rate rows that repeated a (timestamp, model, replica) already read
    unfinished_lines: dict[str, int] = field(default_factory=dict)  # request-log lines of unfinished requests
    # One row per file read (FILE_SCHEMA): lines read, skipped, unfinished, successful requests, first problem.
    files: pl.DataFrame = field(default_factory=lambda: pl.DataFrame(schema=FILE_SCHEMA))
    ignored_files: dict[str, str] = field(default_factory=dict)  # deliberately not read, and why
    rejection_errors: dict[str, InputError] = field(default_factory=dict, repr=False)
    # The first skipped lines of each file with any, named (pipelines.file_reading.skipped), as the GPU reader.
    skip_reasons: dict[str, list[str]] = field(default_factory=dict)

    def raise_for_rejected(self) -> None:
        """Raise the ``InputError`` of the first rejected file (by path), if any file was rejected."""
        if self.rejection_errors:
            raise self.rejection_errors[min(self.rejection_errors)]


def _local_root(source: str | Path) -> Path:
    text = str(source)
    if "://" in text:
        raise InputError(
            text, "only a local file or folder can be read here; copy remote sources locally first"
        )
    root = Path(source)
    if not root.exists():
        raise InputError(root, "no such file or folder")
    return root


def _checked_factors(factors: dict[str, float] | None) -> dict[str, float]:
    checked: dict[str, float] = {}
    for endpoint, value in (factors or {}).items():
        number = value if isinstance(value, int | float) and not isinstance(value, bool) else None
        if number is None or not math.isfinite(number) or number <= 0:
            raise InputError(
                "predictions_per_invocation",
                f"must be a positive number, got {value!r}",
                column=str(endpoint),
            )
        checked[str(endpoint)] = float(number)
    return checked


def _read_file(path: Path, naive_timezone: str | None) -> FileRows | str:
    """Read one file into its family's rows, or say (as a string) why it is not a data file."""
    content = load_content(path)
    if isinstance(content, EmptyFile):
        return "empty file"
    if isinstance(content, JsonDocument):
        value = content.value
        if sagemaker.is_metric_document(value):
            return sagemaker.read_metric_document(path, value)
        records = [value] if isinstance(value, dict) else value
        if records == []:
            return "empty JSON array"
        if not isinstance(records, list) or not all(isinstance(r, dict) for r in records):
            raise InputError(
                path, "not a recognised format: JSON is neither a CloudWatch response nor records"
            )
        table = records_table(records, list(range(1, len(records) + 1)), "json")
        table.line_word = "record"
    else:
        table = content
    assert isinstance(table, Table)
    columns = [c for c in table.frame.columns if c != LINE]
    if is_mapping_table(columns):
        return "an endpoint,workload mapping file (pass it as mapping_file to use it)"
    if sagemaker.is_metric_table(columns):
        return sagemaker.read_metric_table(path, table)
    if interval_counts.is_count_table(columns):
        return interval_counts.read_count_table(path, table, naive_timezone=naive_timezone)
    if rate_samples.is_rate_table(columns):
        return rate_samples.read_rate_table(path, table, naive_timezone=naive_timezone)
    if find_column(columns, *TIMESTAMP_ALIASES) or find_column(columns, *ENDPOINT_ALIASES):
        return request_logs.read_request_table(path, table, naive_timezone=naive_timezone)
    shown = ", ".join(repr(c) for c in columns[:8])
    raise InputError(
        path,
        f"not a recognised format: columns {shown} have neither a timestamp nor a model/endpoint column",
    )


def _file_row(key: str, rows: FileRows) -> dict:
    """What one file gave: lines read and skipped, unfinished requests, successful requests, first problem."""
    successful = rows.successful
    if successful is None and rows.family == SAGEMAKER:
        value = rows.frame["value"].cast(pl.Float64)
        # The sum of a Float64 series is a float (polars types it as any Python literal).
        invocations = cast(float, value.filter(rows.frame["metric"] == sagemaker.INVOCATIONS).sum())
        errors = cast(float, value.filter(rows.frame["metric"].is_in(sagemaker.ERROR_METRICS)).sum())
        successful = float(max(invocations - errors, 0))
    return {
        "file": key,
        "family": rows.family,
        "lines_read": rows.lines if rows.lines is not None else rows.frame.height + rows.skipped,
        "lines_skipped": rows.skipped,
        "lines_unfinished": rows.unfinished,
        "successful": successful,
        "first_problem": str(rows.first_error) if rows.first_error else None,
    }


def _family_intervals(
    frames: dict[str, list[pl.DataFrame]],
) -> tuple[list[pl.DataFrame], int, int, list[str]]:
    parts: list[pl.DataFrame] = []
    conflicts = duplicates = 0
    messages: list[str] = []
    if frames[SAGEMAKER]:
        merged, n, notes = sagemaker.dedupe_datapoints(pl.concat(frames[SAGEMAKER]))
        parts.append(sagemaker.datapoints_to_intervals(merged).with_columns(family=pl.lit(SAGEMAKER)))
        conflicts, messages = conflicts + n, messages + notes
    for family, what in ((COUNTS, "interval counts"), (RATES, "rate samples")):
        if frames[family]:
            intervals, n, d, notes = interval_counts.dedupe_counts(pl.concat(frames[family]), what)
            parts.append(intervals.with_columns(family=pl.lit(family)))
            conflicts, duplicates, messages = conflicts + n, duplicates + d, messages + notes
    if frames[REQUEST_LOG]:
        intervals, n, notes = request_logs.dedupe_requests(pl.concat(frames[REQUEST_LOG]))
        parts.append(intervals.with_columns(family=pl.lit(REQUEST_LOG)))
        conflicts, messages = conflicts + n, messages + notes
    columns = [
        "timestamp",
        "endpoint",
        "variant",
        "invocations",
        "failed_requests",
        "sources",
        "source_files",
    ]
    parts = [
        part.select(*columns, "family").with_columns(
            pl.col("invocations", "failed_requests").cast(pl.Float64)
        )
        for part in parts
    ]
    return parts, conflicts, duplicates, messages


def _one_family_per_day(intervals: pl.DataFrame) -> tuple[pl.DataFrame, list[str]]:
    """Keep, per (usage_date, endpoint), only the preferred family's intervals; report what was set aside."""
    ranked = intervals.with_columns(
        rank=pl.col("family").replace_strict(FAMILY_PRECEDENCE, return_dtype=pl.Int8)
    )
    ranked = ranked.with_columns(best=pl.col("rank").min().over("usage_date", "endpoint"))
    dropped = ranked.filter(pl.col("rank") > pl.col("best"))
    messages: list[str] = []
    if dropped.height:
        summary = (
            dropped.group_by("usage_date", "endpoint", "family", "best")
            .agg(pl.col("invocations").sum())
            .sort("usage_date", "endpoint", "family")
        )
        preferred = {rank: family for family, rank in FAMILY_PRECEDENCE.items()}
        for row in summary.head(_WARNINGS_PER_KIND).iter_rows(named=True):
            kept = preferred[row["best"]]
            messages.append(
                f"{row['endpoint']} on {row['usage_date']}: both {kept} and {row['family']} count it; "
                f"used {kept} and set aside {row['invocations']} {row['family']} invocations "
                "so that no prediction counts twice"
            )
        if summary.height > _WARNINGS_PER_KIND:
            messages.append(f"... and {summary.height - _WARNINGS_PER_KIND} more overlapping endpoint-days")
    return ranked.filter(pl.col("rank") == pl.col("best")).drop("rank", "best"), messages


def _daily(
    intervals: pl.DataFrame, factors: dict[str, float], workloads: dict[str, str]
) -> tuple[pl.DataFrame, list[str]]:
    # Whole requests per day: exact for counted families; rate samples' fractions are rounded only here.
    daily = intervals.group_by("usage_date", "endpoint").agg(
        pl.col("invocations").sum().round(0).cast(pl.Int64),
        pl.col("failed_requests").sum().round(0).cast(pl.Int64),
        union_of_lists("sources").unique().sort().str.join(",").alias("source"),
        union_of_lists("source_files").n_unique().cast(pl.Int64).alias("source_files"),
    )
    factor_frame = pl.DataFrame(
        {"endpoint": list(factors), "factor": list(factors.values())},
        schema={"endpoint": pl.Utf8, "factor": pl.Float64},
    )
    workload_frame = pl.DataFrame(
        {"endpoint": list(workloads), "workload": list(workloads.values())},
        schema={"endpoint": pl.Utf8, "workload": pl.Utf8},
    )
    daily = (
        daily.join(factor_frame, on="endpoint", how="left")
        .join(workload_frame, on="endpoint", how="left")
        .with_columns(
            predictions=(pl.col("invocations") - pl.col("failed_requests"))
            .clip(lower_bound=0)
            .cast(pl.Float64)
            * pl.col("factor").fill_null(1.0)
        )
    )
    messages = []
    excess = daily.filter(pl.col("failed_requests") > pl.col("invocations")).sort("usage_date", "endpoint")
    for row in excess.head(_WARNINGS_PER_KIND).iter_rows(named=True):
        messages.append(
            f"{row['endpoint']} on {row['usage_date']}: {row['failed_requests']} failed requests exceed "
            f"{row['invocations']} invocations; predictions set to 0"
        )
    daily = daily.select(pl.col(name).cast(dtype) for name, dtype in DAILY_SCHEMA.items())
    return daily.sort("usage_date", "endpoint"), messages


def read_predictions(
    source: str | Path,
    *,
    predictions_per_invocation: dict[str, float] | None = None,
    endpoint_map: dict[str, str] | None = None,
    mapping_file: Path | None = None,
    naive_timezone: str | None = None,
) -> PredictionReadResult:
    """Read every prediction-count file under ``source`` into daily counts per UTC day and endpoint.

    ``predictions_per_invocation`` multiplies successful invocations per endpoint (default 1);
    ``naive_timezone`` reads zone-less request-log and counter timestamps in that zone (default: reject them).
    """
    root = _local_root(source)
    factors = _checked_factors(predictions_per_invocation)
    try:
        zone = resolve_zone(naive_timezone)
    except ValueError as exc:
        raise InputError("naive_timezone", str(exc)) from exc
    workloads = load_workload_map(Path(mapping_file) if mapping_file is not None else None, endpoint_map)
    files, ignored = discover_files(root, Path(mapping_file) if mapping_file is not None else None)

    frames: dict[str, list[pl.DataFrame]] = {SAGEMAKER: [], COUNTS: [], REQUEST_LOG: [], RATES: []}
    files_read: list[str] = []
    file_rows: list[dict] = []
    unfinished: dict[str, int] = {}
    skipped: dict[str, int] = {}
    skip_reasons: dict[str, list[str]] = {}
    rejected: dict[str, InputError] = {}
    warnings: list[str] = []
    for path in files:
        key = str(path)
        try:
            rows = _read_file(path, zone)
        except InputError as exc:
            rejected[key] = exc
            continue
        except (pl.exceptions.PolarsError, pa.ArrowException) as exc:
            rejected[key] = InputError(path, f"unreadable: {exc}")
            continue
        if isinstance(rows, str):
            ignored[key] = rows
            continue
        if rows.frame.height == 0 and rows.skipped > 0:
            first = rows.first_error
            problem = f"no usable line: all {rows.skipped} were bad; first: {first.problem if first else '?'}"
            rejected[key] = InputError(
                path, problem, column=first.column if first else None, line=first.line if first else None
            )
            continue
        files_read.append(key)
        file_rows.append(_file_row(key, rows))
        if rows.skipped:
            skipped[key] = rows.skipped
            skip_reasons[key] = rows.problems
        if rows.unfinished:
            unfinished[key] = rows.unfinished
        warnings.extend(rows.problems)
        warnings.extend(rows.notes)
        frames[rows.family].append(rows.frame)

    parts, conflicts, duplicates, conflict_messages = _family_intervals(frames)
    warnings.extend(conflict_messages)
    if parts:
        intervals = pl.concat(parts).with_columns(usage_date=utc_date(pl.col("timestamp")))
        intervals, overlap_messages = _one_family_per_day(intervals)
        warnings.extend(overlap_messages)
    else:
        intervals = pl.DataFrame(
            schema={**INTERVAL_SCHEMA, "sources": pl.List(pl.Utf8), "family": pl.Utf8}
        ).drop("source")
    daily, excess_messages = _daily(intervals, factors, workloads)
    warnings.extend(excess_messages)
    unused = sorted(set(factors) - set(daily["endpoint"].to_list()))
    if unused:
        warnings.append(f"predictions_per_invocation names endpoints with no counts: {', '.join(unused)}")

    intervals = (
        intervals.with_columns(source=pl.col("sources").list.join(","))
        .select(pl.col(name).cast(dtype) for name, dtype in INTERVAL_SCHEMA.items())
        .sort("timestamp", "endpoint", "variant", nulls_last=True)
    )
    for message in warnings:
        log.warning(message)
    for rejection in rejected.values():
        log.error(str(rejection))
    return PredictionReadResult(
        daily=daily,
        intervals=intervals,
        files_read=files_read,
        skipped_lines=skipped,
        rejected_files={key: str(error) for key, error in rejected.items()},
        warnings=warnings,
        conflicts=conflicts,
        duplicates=duplicates,
        unfinished_lines=unfinished,
        files=pl.DataFrame(file_rows, schema=FILE_SCHEMA) if file_rows else pl.DataFrame(schema=FILE_SCHEMA),
        ignored_files=ignored,
        rejection_errors=rejected,
        skip_reasons=skip_reasons,
    )
