"""SageMaker endpoint invocation metrics (``AWS/SageMaker`` ``Invocations``, ``Invocation4XXErrors``,
``Invocation5XXErrors``, statistic Sum) from CloudWatch JSON responses or CSV/Parquet/JSON-lines tables.

CloudWatch JSON does not carry the dimensions of a series, so these conventions say which series is which:

* GetMetricData (``{"MetricDataResults": [{"Id", "Label", "Timestamps", "Values", "StatusCode"}]}``, or a
  list of such pages): the ``Label`` is ``"<EndpointName> <VariantName> <MetricName>"``, or
  ``"<EndpointName> <MetricName>"``, or just ``"<MetricName>"``. When the label's last word is no metric name,
  the ``Id`` names the metric (equal to it, or ending in ``_<metricname>``, any case: ``invocations``,
  ``ep1_invocation5xxerrors``) and the label's words are ``"<EndpointName> [<VariantName>]"``.
* get-metric-statistics (``{"Label": "Invocations", "Datapoints": [{"Timestamp", "Sum", "Unit"}]}``): the same
  label convention; the Sum statistic is required.
* Where the label names no endpoint, the path does: a folder ``EndpointName=<name>`` (and
  ``VariantName=<name>``) anywhere in it, else the name of the folder that holds the file
  (``.../<EndpointName>/invocations.json``).
* Tables, long: ``timestamp, EndpointName, VariantName, MetricName, value``; wide: ``timestamp, EndpointName,
  VariantName, Invocations, Invocation4XXErrors, Invocation5XXErrors`` (any of the three; a blank cell is no
  datapoint). ``VariantName`` may be absent. Rows of other metrics (``ModelLatency``...) are ignored and
  counted in a note.

CloudWatch timestamps are UTC, so a timestamp without a zone is read as UTC here (and only here). A value must
be a whole, non-negative number (the Sum of a count); anything else skips that datapoint and counts it.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import polars as pl

from pipelines.errors import InputError
from pipelines.file_reading.skipped import SkippedLines
from pipelines.predictions.aliases import (
    SAGEMAKER_ENDPOINT,
    SAGEMAKER_METRIC,
    SAGEMAKER_VALUE,
    SAGEMAKER_VARIANT,
)
from pipelines.predictions.file_loading import LINE, TIMESTAMP_ALIASES, Table, find_column
from pipelines.predictions.file_rows import SAGEMAKER, FileRows, drop_bad_rows, union_of_lists
from pipelines.predictions.value_parsing import UTC_DATETIME, parse_counts, parse_timestamps

INVOCATIONS = "Invocations"
ERROR_METRICS = ("Invocation4XXErrors", "Invocation5XXErrors")
METRICS = {name.lower(): name for name in (INVOCATIONS, *ERROR_METRICS)}
_USABLE_STATUS = {"Complete", "PartialData"}


def is_metric_document(value: Any) -> bool:
    """True for a GetMetricData or get-metric-statistics response (or a list of them)."""

    def one(item: Any) -> bool:
        return isinstance(item, dict) and ("MetricDataResults" in item or "Datapoints" in item)

    if isinstance(value, list):
        return bool(value) and all(one(item) for item in value)
    return one(value)


def is_metric_table(columns: list[str]) -> bool:
    """True for a SageMaker metrics table: EndpointName plus MetricName/value, or metric columns."""
    if find_column(columns, *SAGEMAKER_ENDPOINT.aliases) is None:
        return False
    long = (
        find_column(columns, *SAGEMAKER_METRIC.aliases) is not None
        and find_column(columns, *SAGEMAKER_VALUE.aliases) is not None
    )
    return long or any(find_column(columns, key) is not None for key in METRICS)


def endpoint_from_path(path: Path) -> tuple[str, str | None]:
    """Endpoint (and variant) named by the path: ``EndpointName=`` / ``VariantName=`` folders, else parent."""
    endpoint = variant = None
    for part in path.parent.parts:
        key, sep, value = part.partition("=")
        if sep and key.lower() == "endpointname" and value:
            endpoint = value
        elif sep and key.lower() == "variantname" and value:
            variant = value
    return endpoint or path.parent.name, variant


def _metric_from_id(metric_id: str) -> str | None:
    lowered = metric_id.strip().lower()
    for key, name in METRICS.items():
        if lowered == key or lowered.endswith("_" + key):
            return name
    return None


@dataclass
class SeriesName:
    """Which endpoint, variant and metric a CloudWatch series holds, or why it cannot be told."""

    endpoint: str | None = None
    variant: str | None = None
    metric: str | None = None
    problem: str | None = None
    endpoint_from_path: bool = False


def parse_series_name(label: str, metric_id: str, path: Path) -> SeriesName:
    """Name a CloudWatch series by this module's conventions (metric None: not an invocation metric)."""
    words = label.split()
    metric = METRICS.get(words[-1].lower()) if words else None
    if metric is not None:
        names = words[:-1]
    else:
        metric = _metric_from_id(metric_id)
        names = words
    if metric is None:
        return SeriesName()
    if len(names) > 2:
        problem = f"label {label!r} has more words than '<EndpointName> <VariantName> <MetricName>'"
        return SeriesName(metric=metric, problem=problem)
    if names:
        return SeriesName(names[0], names[1] if len(names) > 1 else None, metric)
    endpoint, variant = endpoint_from_path(path)
    return SeriesName(endpoint, variant, metric, endpoint_from_path=True)


class _Collector:
    """Gathers datapoints of a JSON document as text, to be parsed column-wise in one go."""

    def __init__(self, path: Path):
        self.path = path
        self.rows: dict[str, list[Any]] = {
            k: [] for k in ("timestamp", "value", "endpoint", "variant", "metric", "ts_where", "value_where")
        }
        self.bad = SkippedLines(path)
        self.notes: list[str] = []

    def note_path_endpoint(self, endpoint: str | None) -> None:
        """Say once per file and endpoint that the endpoint came from the folder name, not the data."""
        note = f"{self.path}: endpoint {endpoint!r} taken from the file's folder (the label names none)"
        if note not in self.notes:
            self.notes.append(note)

    def add(self, ts: Any, value: Any, series: SeriesName, ts_where: str, value_where: str) -> None:
        """Keep one datapoint (as text) with where it sits in the document, for messages."""
        for key, item in (
            ("timestamp", ts),
            ("value", value),
            ("endpoint", series.endpoint),
            ("variant", series.variant),
            ("metric", series.metric),
            ("ts_where", ts_where),
            ("value_where", value_where),
        ):
            self.rows[key].append(None if item is None else str(item))


def _require_list(path: Path, value: Any, where: str) -> list[Any]:
    if not isinstance(value, list):
        raise InputError(path, f"expected a JSON array, found {type(value).__name__}", column=where)
    return value


def _collect_metric_data(collector: _Collector, page: dict[str, Any], prefix: str) -> None:
    path = collector.path
    results = _require_list(path, page["MetricDataResults"], f"{prefix}MetricDataResults")
    for i, result in enumerate(results):
        where = f"{prefix}MetricDataResults[{i}]"
        if not isinstance(result, dict):
            raise InputError(path, "expected a JSON object", column=where)
        for key in ("Timestamps", "Values"):
            if key not in result:
                raise InputError(path, f"missing key {key!r}", column=where)
        timestamps = _require_list(path, result["Timestamps"], f"{where}.Timestamps")
        values = _require_list(path, result["Values"], f"{where}.Values")
        if len(timestamps) != len(values):
            raise InputError(path, f"{len(timestamps)} Timestamps but {len(values)} Values", column=where)
        label, metric_id = str(result.get("Label") or ""), str(result.get("Id") or "")
        series = parse_series_name(label, metric_id, path)
        if series.metric is None:
            collector.notes.append(
                f"{path}, column {where!r}: series {label or metric_id!r} is not an invocation metric; "
                "ignored"
            )
            continue
        if series.endpoint_from_path:
            collector.note_path_endpoint(series.endpoint)
        status = str(result.get("StatusCode", "Complete"))
        problem = series.problem
        if problem is None and status not in _USABLE_STATUS:
            problem = f"StatusCode {status}: CloudWatch returned no reliable data for this series"
        if problem is not None:
            collector.bad.add(problem, column=where)
            collector.bad.count += max(len(values) - 1, 0)
            continue
        for j, (ts, value) in enumerate(zip(timestamps, values, strict=True)):
            collector.add(ts, value, series, f"{where}.Timestamps[{j}]", f"{where}.Values[{j}]")


def _collect_datapoints(collector: _Collector, page: dict[str, Any], prefix: str) -> None:
    path = collector.path
    points = _require_list(path, page["Datapoints"], f"{prefix}Datapoints")
    label = str(page.get("Label") or "")
    series = parse_series_name(label, "", path)
    if series.metric is None:
        collector.notes.append(f"{path}: series {label!r} is not an invocation metric; ignored")
        return
    if series.endpoint_from_path:
        collector.note_path_endpoint(series.endpoint)
    if series.problem is not None:
        collector.bad.add(series.problem, column=f"{prefix}Label")
        collector.bad.count += max(len(points) - 1, 0)
        return
    for j, point in enumerate(points):
        where = f"{prefix}Datapoints[{j}]"
        if not isinstance(point, dict):
            collector.bad.add("a datapoint must be a JSON object", column=where)
            continue
        if "Sum" not in point:
            collector.bad.add("datapoint has no Sum statistic", column=f"{where}.Sum")
            continue
        collector.add(
            point.get("Timestamp"),
            point["Sum"],
            series,
            f"{where}.Timestamp",
            f"{where}.Sum",
        )


def read_metric_document(path: Path, document: Any) -> FileRows:
    """Datapoints of a GetMetricData / get-metric-statistics JSON response (see the module's conventions)."""
    collector = _Collector(path)
    pages = document if isinstance(document, list) else [document]
    for p, page in enumerate(pages):
        prefix = f"[{p}]." if isinstance(document, list) else ""
        if "MetricDataResults" in page:
            _collect_metric_data(collector, page, prefix)
        else:
            _collect_datapoints(collector, page, prefix)
    frame = pl.DataFrame(collector.rows, schema={key: pl.Utf8 for key in collector.rows})
    timestamps = parse_timestamps(frame["timestamp"], naive_timezone="UTC")
    values = parse_counts(frame["value"], empty="error")
    frame = frame.with_columns(timestamp=timestamps.values, value=values.values)
    frame = drop_bad_rows(
        frame,
        [(frame["ts_where"], timestamps.problems), (frame["value_where"], values.problems)],
        collector.bad,
        line_column=None,
    )
    return _finish(path, frame, "sagemaker_json", collector.bad, collector.notes)


def read_metric_table(path: Path, table: Table) -> FileRows:
    """Datapoints of a long or wide SageMaker metrics table (CSV, Parquet or JSON lines)."""
    frame = table.frame
    columns = [c for c in frame.columns if c != LINE]
    ts_col = find_column(columns, *TIMESTAMP_ALIASES)
    endpoint_col = find_column(columns, *SAGEMAKER_ENDPOINT.aliases)
    if ts_col is None:
        raise InputError(
            path, "missing required column (SageMaker metrics need a timestamp)", column="timestamp"
        )
    assert endpoint_col is not None
    variant_col = find_column(columns, *SAGEMAKER_VARIANT.aliases)
    metric_col = find_column(columns, *SAGEMAKER_METRIC.aliases)
    value_col = find_column(columns, *SAGEMAKER_VALUE.aliases)
    bad = SkippedLines(path)
    for line, problem in table.bad_lines:
        bad.add(problem, line=line, word=table.line_word)
    notes: list[str] = []
    variant = pl.col(variant_col).cast(pl.Utf8).str.strip_chars() if variant_col else pl.lit(None, pl.Utf8)
    base = [
        pl.col(LINE),
        pl.col(ts_col).alias("timestamp"),
        pl.col(endpoint_col).cast(pl.Utf8).str.strip_chars().alias("endpoint"),
        pl.when(variant != "").then(variant).alias("variant"),
    ]
    long_form = metric_col is not None and value_col is not None
    if metric_col is not None and value_col is not None:  # long_form, spelled out for the type checker
        work = frame.select(
            *base,
            pl.col(metric_col).cast(pl.Utf8).str.strip_chars().alias("metric_raw"),
            pl.col(value_col).alias("value"),
        )
        work = work.with_columns(
            metric=pl.col("metric_raw").str.to_lowercase().replace_strict(METRICS, default=None)
        )
        others = work.filter(pl.col("metric").is_null())
        if others.height:
            names = sorted(str(n) for n in others["metric_raw"].unique().to_list())
            notes.append(f"{path}: ignored {others.height} rows of other metrics ({', '.join(names[:5])})")
        work = work.filter(pl.col("metric").is_not_null()).drop("metric_raw")
        value_columns = {"value": value_col}
    else:
        found = {name: find_column(columns, key) for key, name in METRICS.items()}
        value_columns = {name: column for name, column in found.items() if column is not None}
        work = frame.select(*base, *(pl.col(column).alias(name) for name, column in value_columns.items()))
    timestamps = parse_timestamps(work["timestamp"], naive_timezone="UTC")
    endpoint_problem = work.select(
        pl.when(pl.col("endpoint").is_null() | (pl.col("endpoint") == "")).then(pl.lit("empty EndpointName"))
    ).to_series()
    checks: list[tuple[str | pl.Series, pl.Series]] = [
        (ts_col, timestamps.problems),
        (endpoint_col, endpoint_problem),
    ]
    # Long form: a row is a datapoint, so a blank value is an error. Wide form: a blank cell is no datapoint.
    for name, column in value_columns.items():
        parsed = parse_counts(work[name], empty="error" if long_form else "missing")
        work = work.with_columns(parsed.values)
        checks.append((column, parsed.problems))
    work = work.with_columns(timestamp=timestamps.values)
    work = drop_bad_rows(work, checks, bad, line_column=LINE, word=table.line_word)
    if long_form:
        long = work
    else:
        long = work.unpivot(
            index=[LINE, "timestamp", "endpoint", "variant"],
            on=list(value_columns),
            variable_name="metric",
            value_name="value",
        ).filter(pl.col("value").is_not_null())
    return _finish(path, long, f"sagemaker_{table.container}", bad, notes)


def _finish(path: Path, frame: pl.DataFrame, source: str, bad: SkippedLines, notes: list[str]) -> FileRows:
    out = frame.select(
        pl.col("timestamp").cast(UTC_DATETIME),
        pl.col("endpoint").cast(pl.Utf8),
        pl.col("variant").cast(pl.Utf8),
        pl.col("metric").cast(pl.Utf8),
        pl.col("value").cast(pl.Int64),
        pl.lit(source).alias("source"),
        pl.lit(str(path)).alias("source_file"),
    )
    return FileRows(
        SAGEMAKER,
        source,
        out,
        skipped=bad.count,
        problems=bad.messages(),
        notes=notes,
        first_error=bad.errors[0] if bad.errors else None,
    )


def dedupe_datapoints(datapoints: pl.DataFrame) -> tuple[pl.DataFrame, int, list[str]]:
    """One value per (endpoint, variant, metric, timestamp) across all files: overlapping exports repeat
    datapoints; where they disagree, the larger value is kept and the key is counted as a conflict."""
    keys = ["endpoint", "variant", "metric", "timestamp"]
    merged = datapoints.group_by(keys).agg(
        pl.col("value").max(),
        pl.col("value").n_unique().alias("distinct_values"),
        pl.col("source").unique().sort().alias("sources"),
        pl.col("source_file").unique().sort().alias("source_files"),
    )
    conflicts = merged.filter(pl.col("distinct_values") > 1)
    messages = []
    if conflicts.height:
        first = conflicts.sort(keys).row(0, named=True)
        messages.append(
            f"SageMaker metrics: {conflicts.height} datapoints had different values in overlapping exports; "
            f"kept the larger (first: {first['endpoint']} {first['variant'] or ''} {first['metric']} "
            f"{first['timestamp'].isoformat()} in {', '.join(first['source_files'])})"
        )
    return merged.drop("distinct_values"), conflicts.height, messages


def datapoints_to_intervals(merged: pl.DataFrame) -> pl.DataFrame:
    """Per (timestamp, endpoint, variant): invocations and failed requests (4XX + 5XX errors)."""
    return merged.group_by("timestamp", "endpoint", "variant").agg(
        pl.col("value").filter(pl.col("metric") == INVOCATIONS).sum().alias("invocations"),
        pl.col("value").filter(pl.col("metric").is_in(ERROR_METRICS)).sum().alias("failed_requests"),
        union_of_lists("sources").unique().sort().alias("sources"),
        union_of_lists("source_files").unique().sort().alias("source_files"),
    )
