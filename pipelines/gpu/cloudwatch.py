"""CloudWatch agent and SageMaker GPU metrics, as the GetMetricData JSON or as CSV.

Metrics read (all become ``gpu_util``; other metrics are ignored):

- ``CWAgent`` ``nvidia_smi_utilization_gpu``: percent of one GPU (dimensions ``index``, ``name``, ``host``,
  ``InstanceId``); formats ``cloudwatch_json``/``cloudwatch_csv``.
- ``/aws/sagemaker/Endpoints`` ``GPUUtilization``: percent *summed over the instance's GPUs* (0-400 % on 4
  GPUs), divided by the GPU count: a ``gpu_count`` column or dimension, else ``gpu_counts`` of the read,
  keyed by the resource id or the endpoint name (an ARN's last part; case-insensitive); when neither
  gives it the file is rejected. Formats ``sagemaker_json``/``sagemaker_csv``.
- ``GPUUtilizationNormalized`` (inference components): already 0-100 %, divided by 100 only.

Time: a CloudWatch datapoint is stamped with the *start* of its period; ``ts`` is moved to the period's end
so that, like every sample, it stands for [ts - interval, ts). The period is the interval: from the query
(``MetricStat.Period``), a ``period`` column or a ``Period=`` label pair, else the series' median gap.

JSON: a GetMetricData answer ``{"MetricDataResults": [{Id, Label, Timestamps, Values, StatusCode}]}`` (or a
list of such pages), or a GetMetricStatistics answer ``{"Label", "Datapoints": [{Timestamp, Average}]}``.
That JSON carries no dimensions; this is where they come from, first source first, per dimension:

1. the query with the same ``Id``: ``MetricDataQueries`` inside the JSON, or the GetMetricData request saved
   beside it as ``<stem>.queries.json`` or ``<stem>.request.json`` (``MetricStat.Metric`` gives
   ``Namespace``, ``MetricName``, ``Dimensions``; ``MetricStat.Period`` the period);
2. the ``Label``: the metric name and ``Key=Value`` pairs separated by ``,`` ``;`` ``|`` or spaces, e.g.
   ``nvidia_smi_utilization_gpu InstanceId=i-0abc12345678def01 index=0 name=NVIDIA A10G`` (a value runs to
   the next separator or ``Key=``);
3. the ``Id``: ``i_<hex>`` gives ``InstanceId`` ``i-<hex>``, ``gpu<N>`` the index, and the metric name may
   appear in lower case (``gpuutilization_i_0abc12345678def01``, ``util_i_0abc1234_gpu3``).

The resource then follows :mod:`pipelines.gpu.resources` (the file's path may name the instance).

CSV: columns ``timestamp`` (or ``Timestamp``/``time``), ``value`` (or ``Average``) with a ``metric``/
``MetricName`` column, or one column per metric named after it; dimension columns ``InstanceId``/
``instance_id``/``resource_id``/``EndpointName``, ``VariantName``, ``InferenceComponentName``, ``index``,
``name``, ``host``/``Host``, ``gpu_count``, ``period``. Without a metric column the dimensions decide:
``InferenceComponentName`` -> ``GPUUtilizationNormalized``, ``EndpointName`` -> ``GPUUtilization`` (summed),
otherwise ``nvidia_smi_utilization_gpu``.

``host`` is the ``Host``/``host`` dimension, else ``VariantName``, else ``InferenceComponentName``: it keeps
the variants of one endpoint apart.
"""

from __future__ import annotations

import csv
import io
import json
import re
from pathlib import Path
from typing import Any

from pipelines.errors import InputError
from pipelines.file_reading.timestamps import TimestampParser
from pipelines.gpu.records import GPU_UTIL, SampleRows, clean, parse_int, parse_number
from pipelines.gpu.resources import explicit_resource, provider_instance

# lower-case metric name -> (format family, value summed over the GPUs)
KNOWN_METRICS = {
    "nvidia_smi_utilization_gpu": ("cloudwatch", False),
    "gpuutilization": ("sagemaker", True),
    "gpuutilizationnormalized": ("sagemaker", False),
}
_METRIC_IN_LABEL = re.compile(
    r"(?<![A-Za-z0-9_])(nvidia_smi_utilization_gpu|GPUUtilizationNormalized|GPUUtilization)(?![A-Za-z0-9_])",
    re.IGNORECASE,
)
_PAIR = re.compile(
    r"([A-Za-z_][\w.]*)\s*=\s*(.*?)\s*(?=[,;|]|\s+[A-Za-z_][\w.]*\s*=|$)",
)
_ID_INSTANCE = re.compile(r"(?:^|_)i_([0-9a-f]{8,17})(?![0-9a-f])")
_ID_GPU = re.compile(r"(?:^|_)gpu_?(\d+)(?:_|$)")
_TS_COLUMNS = ("timestamp", "time", "date", "datetime")
_VALUE_COLUMNS = ("value", "average", "avg")
_METRIC_COLUMNS = ("metric", "metricname", "metric_name")
SIDECAR_SUFFIXES = (".queries.json", ".request.json")


def is_sidecar(path: Path) -> bool:
    """True for a saved GetMetricData request, which describes a results file rather than holding samples."""
    return path.name.endswith(SIDECAR_SUFFIXES)


def _lower_keys(d: dict) -> dict[str, object]:
    return {str(k).lower(): v for k, v in d.items()}


def _metric_of(name: object) -> str | None:
    key = str(name or "").strip().lower()
    return key if key in KNOWN_METRICS else None


def _fields(dims: dict[str, object]) -> dict[str, object]:
    low = {k: clean(v) for k, v in _lower_keys(dims).items()}
    host = low.get("host") or low.get("variantname") or low.get("inferencecomponentname")
    return {
        "explicit_resource": explicit_resource(low),
        "host": host,
        "gpu_index": parse_int(low.get("index")),
        "gpu_model": low.get("name"),
        "provider_id": provider_instance(low.values()),
    }


def _add(rows, *, metric, percent, ts_us, dims, period, fmt_kind, line):
    family, summed = KNOWN_METRICS[metric]
    low = _lower_keys(dims)
    rows.add(
        ts_us=ts_us,
        metric=GPU_UTIL,
        value=percent / 100.0,
        source_format=f"{family}_{fmt_kind}",
        period_seconds=period,
        period_start=True,
        divide_by_gpu_count=summed,
        gpu_count=parse_int(low.get("gpu_count", low.get("gpucount"))),
        line=line,
        **_fields(dims),
    )


def _queries(path: Path, responses: list[dict]) -> dict[str, dict]:
    found: list = []
    for response in responses:
        found += response.get("MetricDataQueries") or []
    stem = path.name.removesuffix(".json")
    for suffix in SIDECAR_SUFFIXES:
        sidecar = path.parent / f"{stem}{suffix}"
        if sidecar.is_file():
            try:
                loaded = json.loads(sidecar.read_text(encoding="utf-8-sig"))
            except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
                raise InputError(sidecar, f"cannot read the GetMetricData request: {exc}") from exc
            found += loaded.get("MetricDataQueries", []) if isinstance(loaded, dict) else loaded
    by_id = {}
    for query in found:
        if isinstance(query, dict) and query.get("Id"):
            by_id[str(query["Id"])] = query
    return by_id


def describe(
    query: dict | None, label: str | None, result_id: str | None
) -> tuple[str | None, dict, float | None]:
    """Metric name (lower case), dimensions and period of one result, from its query, Label and Id."""
    metric, dims, period = None, {}, None
    stat = (query or {}).get("MetricStat") or {}
    if stat:
        m = stat.get("Metric") or {}
        metric = _metric_of(m.get("MetricName"))
        for d in m.get("Dimensions") or []:
            if isinstance(d, dict) and "Name" in d:
                dims[str(d["Name"])] = d.get("Value")
        period = parse_number(stat.get("Period"))
    if label:
        if metric is None:
            found = _METRIC_IN_LABEL.search(label)
            metric = found[1].lower() if found else None
        for key, value in _PAIR.findall(label):
            if key.lower() == "period":
                period = period or parse_number(value)
            else:
                dims.setdefault(key, value)
    if result_id:
        rid = result_id.lower()
        if metric is None:
            metric = next((k for k in sorted(KNOWN_METRICS, key=len, reverse=True) if k in rid), None)
        low = _lower_keys(dims)
        m = _ID_INSTANCE.search(rid)
        if m and not explicit_resource(low):
            dims["InstanceId"] = f"i-{m[1]}"
        m = _ID_GPU.search(rid)
        if m and "index" not in low:
            dims["index"] = m[1]
    return metric, dims, period


def parse_cloudwatch_json(
    path: Path, payload: object, times: TimestampParser, window: tuple[int, int] | None = None
) -> SampleRows:
    """Samples of a GetMetricData (or GetMetricStatistics) answer saved as JSON."""
    rows = SampleRows(str(path), window=window)
    responses: list[Any] = payload if isinstance(payload, list) else [payload]
    if not all(isinstance(r, dict) for r in responses):
        raise InputError(path, "expected GetMetricData answers (JSON objects)")
    queries = _queries(path, responses)
    recognised = 0
    for response in responses:
        if "Datapoints" in response:
            recognised += _statistics(path, response, times, rows)
            continue
        results = response.get("MetricDataResults")
        if not isinstance(results, list):
            raise InputError(
                path, "GetMetricData answer without MetricDataResults", column="MetricDataResults"
            )
        for result in results:
            if not isinstance(result, dict):
                rows.skip("MetricDataResults", "an entry is not an object")
                continue
            rid = str(result.get("Id") or "")
            label = result.get("Label")
            metric, dims, period = describe(queries.get(rid), None if label is None else str(label), rid)
            if metric is None:
                continue
            recognised += 1
            stamps, values = result.get("Timestamps") or [], result.get("Values") or []
            if len(stamps) != len(values):
                raise InputError(
                    path,
                    f"result {rid!r} has {len(stamps)} Timestamps but {len(values)} Values",
                    column="Values",
                )
            for n, (stamp, raw) in enumerate(zip(stamps, values, strict=True)):
                where = f"result {rid!r}, value {n}"
                ts_us = times.parse(str(stamp))
                percent = parse_number(raw)
                if ts_us is None:
                    rows.skip(where, f"timestamp {stamp!r} cannot be parsed")
                elif rows.outside(ts_us):
                    continue
                elif percent is None:
                    rows.skip(where, f"value {raw!r} is not a number")
                else:
                    _add(
                        rows,
                        metric=metric,
                        percent=percent,
                        ts_us=ts_us,
                        dims=dims,
                        period=period,
                        fmt_kind="json",
                        line=None,
                    )
    if not recognised:
        raise InputError(
            path,
            "no GPU utilization metric found: no result is nvidia_smi_utilization_gpu, GPUUtilization or"
            " GPUUtilizationNormalized by its query, Label or Id",
        )
    return rows


def _statistics(path: Path, response: dict, times: TimestampParser, rows: SampleRows) -> int:
    label = response.get("Label")
    metric, dims, period = describe(None, None if label is None else str(label), None)
    if metric is None:
        return 0
    for n, point in enumerate(response.get("Datapoints") or []):
        where = f"Datapoints[{n}]"
        if not isinstance(point, dict):
            rows.skip(where, "not an object")
            continue
        ts_us = times.parse(str(point.get("Timestamp", "")))
        percent = parse_number(point.get("Average"))
        if ts_us is None:
            rows.skip(where, f"timestamp {point.get('Timestamp')!r} cannot be parsed")
        elif rows.outside(ts_us):
            continue
        elif percent is None:
            rows.skip(where, "no Average")
        else:
            _add(
                rows,
                metric=metric,
                percent=percent,
                ts_us=ts_us,
                dims=dims,
                period=period,
                fmt_kind="json",
                line=None,
            )
    return 1


def parse_cloudwatch_csv(
    path: Path, text: str, times: TimestampParser, window: tuple[int, int] | None = None
) -> SampleRows:
    """Samples of a CSV of CloudWatch agent or SageMaker GPU metrics."""
    rows = SampleRows(str(path), window=window)
    reader = csv.reader(io.StringIO(text, newline=None), skipinitialspace=True)
    header = [h.strip().lstrip("\ufeff") for h in next(reader, [])]
    low = [h.lower() for h in header]
    ts_at = next((low.index(c) for c in _TS_COLUMNS if c in low), None)
    if ts_at is None:
        raise InputError(path, "no timestamps: no timestamp column", column="timestamp", line=1)
    value_at = next((low.index(c) for c in _VALUE_COLUMNS if c in low), None)
    metric_at = next((low.index(c) for c in _METRIC_COLUMNS if c in low), None)
    metric_columns: dict[int, str | None] = {i: low[i] for i in range(len(low)) if low[i] in KNOWN_METRICS}
    if value_at is not None:
        # With a metric column the metric is read per row (None here); without one the dimensions decide.
        metric_columns = {value_at: _default_metric(low) if metric_at is None else None}
    elif not metric_columns:
        raise InputError(path, "no value column (value, Average, or a column named after the metric)", line=1)
    period_at = low.index("period") if "period" in low else None
    special = {ts_at, period_at, metric_at, *metric_columns}
    dim_columns = [(i, header[i]) for i in range(len(header)) if i not in special]
    for line_no, row in enumerate(reader, start=2):
        if not row or all(not c.strip() for c in row):
            continue
        if len(row) != len(header):
            rows.skip(f"line {line_no}", f"{len(row)} fields, the header has {len(header)}")
            continue
        if rows.outside_by_date(row[ts_at]):
            continue
        ts_us = times.parse(row[ts_at])
        if ts_us is None:
            rows.skip(f"line {line_no}", f"timestamp {row[ts_at]!r} cannot be parsed")
            continue
        if rows.outside(ts_us):
            continue
        dims = {name: row[i] for i, name in dim_columns}
        period = parse_number(row[period_at]) if period_at is not None else None
        for i, fixed_metric in metric_columns.items():
            metric = fixed_metric if metric_at is None else fixed_metric or _metric_of(row[metric_at])
            if metric is None:
                continue
            percent = parse_number(row[i])
            if percent is None:
                rows.skip(f"line {line_no}", f"{header[i]} {row[i]!r} is not available or not a number")
                continue
            _add(
                rows,
                metric=metric,
                percent=percent,
                ts_us=ts_us,
                dims=dims,
                period=period,
                fmt_kind="csv",
                line=line_no,
            )
    return rows


def _default_metric(low_header: list[str]) -> str:
    if "inferencecomponentname" in low_header:
        return "gpuutilizationnormalized"
    if "endpointname" in low_header:
        return "gpuutilization"
    return "nvidia_smi_utilization_gpu"
