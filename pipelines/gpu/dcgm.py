"""DCGM exporter metrics: Prometheus text exposition, Prometheus CSV exports, Prometheus query JSON.

Read: ``DCGM_FI_PROF_GR_ENGINE_ACTIVE`` (ratio), ``DCGM_FI_DEV_GPU_UTIL`` (percent, divided by 100),
``DCGM_FI_PROF_SM_ACTIVE`` (ratio), ``DCGM_FI_DEV_POWER_USAGE`` (watts, divided by the model's power limit from
``pipelines/reference/gpu_power_limits.csv``; no sample where the model is unknown). Other metrics and ``# HELP``/``# TYPE`` lines are ignored.
Labels: ``gpu`` (index; else ``device`` ``nvidiaN``), ``UUID``, ``modelName``, the host from ``Hostname`` or
``hostname`` (else ``node``/``kubernetes_node``), MIG instances ``GPU_I_ID`` with their profile
``GPU_I_PROFILE`` (``3g.20gb``: 3 of the GPU's 7 slices; a sample of a MIG instance without a readable profile is
skipped and counted, its share of the GPU being unknown), explicit resources and ``providerID`` as in
:mod:`pipelines.gpu.resources`. Kubernetes labels (``KUBERNETES_LABELS``: ``pod``/``namespace``/``container``, the
old ``pod_name``/``pod_namespace``/``container_name``, and Prometheus's ``exported_*`` renames, which win) are kept as
the sample's ``pod``, ``namespace`` and ``container``; empty strings (no pod holds the GPU) are NULL. They are not
part of a series: a GPU is the same series whichever pod holds it.

Text exposition: sample lines ``name{labels} value [timestamp_ms]``. A scrape saved without timestamps takes
its time from the file name (ISO or epoch); without that the file is rejected ("no timestamps").
CSV export: long form ``timestamp,metric|__name__,<labels...>,value`` (epoch seconds, epoch ms or RFC 3339;
the metric cell may also be a whole series ``NAME{labels}``), or the wide form Grafana writes
(``Time,NAME{labels},NAME{labels},...``).
"""

from __future__ import annotations

import csv
import io
import re
from pathlib import Path
from typing import Any

from pipelines.errors import InputError
from pipelines.file_reading.timestamps import TimestampParser
from pipelines.gpu.records import (
    GPU_UTIL,
    GR_ENGINE_ACTIVE,
    POWER,
    SM_ACTIVE,
    SampleRows,
    clean,
    mig_slices,
    parse_int,
    reference_power_limit,
)
from pipelines.gpu.resources import explicit_resource, provider_instance

# metric name -> (our metric, divisor that turns the reading into a 0-1 ratio)
DCGM_METRICS = {
    "DCGM_FI_PROF_GR_ENGINE_ACTIVE": (GR_ENGINE_ACTIVE, 1.0),
    "DCGM_FI_DEV_GPU_UTIL": (GPU_UTIL, 100.0),
    "DCGM_FI_PROF_SM_ACTIVE": (SM_ACTIVE, 1.0),
    # Watts; divided by the model's power limit (pipelines/reference/gpu_power_limits.csv) in _add.
    "DCGM_FI_DEV_POWER_USAGE": (POWER, 1.0),
}
SAMPLE_LINE = re.compile(
    r"^(?P<name>[a-zA-Z_:][a-zA-Z0-9_:]*)\s*(?:\{(?P<labels>.*)\})?\s+(?P<value>\S+)(?:\s+(?P<ts>-?\d+))?\s*$"
)
_LABEL = re.compile(r'\s*([a-zA-Z_][a-zA-Z0-9_]*)\s*=\s*"((?:[^"\\]|\\.)*)"\s*(?:,|$)')
_UNESCAPE = re.compile(r"\\(.)")
_HOST_LABELS = ("Hostname", "hostname", "node", "kubernetes_node")
# Which label gives each Kubernetes field, first found wins. A Prometheus server that scrapes the exporter with its
# own target labels (pod, namespace and container of the exporter's pod) renames the exporter's to exported_*; the
# exporter wrote pod_name/pod_namespace/container_name before version 2.x.
KUBERNETES_LABELS = {
    "pod": ("exported_pod", "pod", "pod_name"),
    "namespace": ("exported_namespace", "namespace", "pod_namespace"),
    "container": ("exported_container", "container", "container_name"),
}
_DEVICE = re.compile(r"^nvidia(\d+)$")
_TS_COLUMNS = ("timestamp", "time", "ts")
_METRIC_COLUMNS = ("__name__", "metric", "metric_name", "name")
_VALUE_COLUMNS = ("value", "val")


def parse_labels(text: str) -> dict[str, str] | None:
    """The labels of ``{...}`` (without braces), unescaping ``\\"``, ``\\\\``, ``\\n``; None if malformed."""
    labels: dict[str, str] = {}
    pos = 0
    text = text.strip()
    while pos < len(text):
        m = _LABEL.match(text, pos)
        if not m:
            return None
        labels[m[1]] = _UNESCAPE.sub(lambda e: "\n" if e[1] == "n" else e[1], m[2])
        pos = m.end()
    return labels


def parse_series(text: str) -> tuple[str, dict[str, str]] | None:
    """``NAME{labels}`` split into name and labels; None if malformed."""
    text = text.strip()
    if "{" not in text:
        return (text, {}) if re.fullmatch(r"[a-zA-Z_:][a-zA-Z0-9_:]*", text) else None
    name, _, rest = text.partition("{")
    if not rest.endswith("}"):
        return None
    labels = parse_labels(rest[:-1])
    return None if labels is None else (name.strip(), labels)


def label_fields(labels: dict[str, str]) -> dict[str, Any]:
    """The sample fields (host, GPU, resource ids) that DCGM labels carry."""
    host = next((clean(labels[k]) for k in _HOST_LABELS if clean(labels.get(k))), None)
    gpu_index = parse_int(labels.get("gpu"))
    if gpu_index is None:
        m = _DEVICE.match(labels.get("device", ""))
        gpu_index = int(m[1]) if m else None
    return {
        "host": host,
        "gpu_index": gpu_index,
        "gpu_uuid": clean(labels.get("UUID") or labels.get("uuid")),
        "gpu_model": clean(labels.get("modelName") or labels.get("model_name")),
        "mig_instance": clean(labels.get("GPU_I_ID")),
        "mig_profile": clean(labels.get("GPU_I_PROFILE")),
        "explicit_resource": explicit_resource({k: clean(v) for k, v in labels.items()}),
        "provider_id": provider_instance(labels.values()),
        **{
            name: next((clean(labels[k]) for k in spellings if k in labels), None)
            for name, spellings in KUBERNETES_LABELS.items()
        },
    }


def _add(rows: SampleRows, name: str, labels: dict[str, str], raw_value: str, ts_us: int, fmt: str, line):
    metric, divisor = DCGM_METRICS[name]
    try:
        value = float(raw_value)
    except ValueError:
        rows.skip(f"line {line}" if line else "sample", f"value {raw_value!r} of {name} is not a number")
        return
    if value != value:  # NaN: the exporter had no reading
        rows.skip(f"line {line}" if line else "sample", f"{name} is NaN")
        return
    fields = label_fields(labels)
    if metric == POWER:
        # The exporter gives watts and no limit: the model's limit from the reference table. An unknown model (or a
        # MIG instance, whose power is the whole GPU's) gives no power sample; eta_power is then NULL.
        limit = reference_power_limit(fields["gpu_model"])
        if limit is None or fields["mig_instance"] is not None or value < 0:
            return
        divisor = limit
    if fields["mig_instance"] is not None and mig_slices(fields["mig_profile"]) is None:
        rows.skip(
            f"line {line}" if line else "sample",
            f"MIG instance GPU_I_ID={fields['mig_instance']} has GPU_I_PROFILE {fields['mig_profile']!r}, not a"
            " profile like 3g.20gb: its share of the GPU is unknown",
        )
        return
    rows.add(
        ts_us=ts_us,
        metric=metric,
        value=value / divisor,
        source_format=fmt,
        line=line,
        **fields,
    )


def parse_prometheus_text(
    path: Path, text: str, times: TimestampParser, window: tuple[int, int] | None = None
) -> SampleRows:
    """Samples of a DCGM exporter scrape (or concatenated scrapes) in Prometheus text exposition format."""
    rows = SampleRows(str(path), window=window)
    name_time: int | None = None
    name_time_checked = False
    seen_untimed: set[tuple] = set()
    untimed_lines = 0
    for line_no, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        m = SAMPLE_LINE.match(line)
        if not m:
            rows.skip(f"line {line_no}", "not a Prometheus sample line")
            continue
        name = m["name"]
        if name not in DCGM_METRICS:
            continue
        if m["ts"] is not None and rows.outside(int(m["ts"]) * 1000):
            continue  # before the labels are parsed: a read of one day skips the other days' lines cheaply
        labels = parse_labels(m["labels"]) if m["labels"] is not None else {}
        if labels is None:
            rows.skip(f"line {line_no}", f"malformed labels of {name}")
            continue
        if m["ts"] is not None:
            ts_us = int(m["ts"]) * 1000
        else:
            if not name_time_checked:
                name_time = times.from_file_name(path.name)
                name_time_checked = True
            if name_time is None:
                untimed_lines += 1
                continue
            key = (name, tuple(sorted(labels.items())))
            if key in seen_untimed:
                raise InputError(
                    path,
                    f"{name} appears twice without timestamps: several scrapes are concatenated but"
                    " only the file name gives a time",
                    line=line_no,
                )
            seen_untimed.add(key)
            ts_us = name_time
            if rows.outside(ts_us):
                continue
        _add(rows, name, labels, m["value"], ts_us, "dcgm_prometheus", line_no)
    if untimed_lines and not len(rows):
        raise InputError(
            path,
            "no timestamps: the sample lines carry none and the file name holds no ISO or epoch time"
            " (name scrapes like dcgm-2026-03-01T12:00:30Z.prom)",
        )
    if untimed_lines:
        rows.skip("file", "sample lines without a timestamp in a file that has timestamps", untimed_lines)
    return rows


def _find(columns: list[str], candidates: tuple[str, ...]) -> int | None:
    lowered = [c.strip().lower() for c in columns]
    for candidate in candidates:
        if candidate.lower() in lowered:
            return lowered.index(candidate.lower())
    return None


def parse_prometheus_csv(
    path: Path, text: str, times: TimestampParser, window: tuple[int, int] | None = None
) -> SampleRows:
    """Samples of a Prometheus range-query CSV export of DCGM metrics (long or Grafana wide form)."""
    rows = SampleRows(str(path), window=window)
    reader = csv.reader(io.StringIO(text, newline=None), skipinitialspace=True)
    header = next(reader, None) or []
    header = [h.strip() for h in header]
    ts_at = _find(header, _TS_COLUMNS)
    if ts_at is None:
        raise InputError(path, "no timestamps: no timestamp/time column", line=1)
    metric_at = _find(header, _METRIC_COLUMNS)
    value_at = _find(header, _VALUE_COLUMNS)
    wide = {i: parse_series(h) for i, h in enumerate(header) if i != ts_at and h.startswith("DCGM_FI_")}
    if metric_at is None or value_at is None:
        if not wide:
            missing = "__name__/metric" if metric_at is None else "value"
            raise InputError(path, "Prometheus CSV export needs a metric and a value column", column=missing)
        return _parse_wide(path, reader, header, ts_at, wide, times, rows)
    label_columns = [(i, h) for i, h in enumerate(header) if i not in (ts_at, metric_at, value_at)]
    for line_no, row in enumerate(reader, start=2):
        if not row or all(not c.strip() for c in row):
            continue
        if len(row) != len(header):
            rows.skip(f"line {line_no}", f"{len(row)} fields, the header has {len(header)}")
            continue
        series = parse_series(row[metric_at])
        if series is None:
            rows.skip(f"line {line_no}", f"malformed metric {row[metric_at]!r}")
            continue
        name, labels = series
        if name not in DCGM_METRICS:
            continue
        labels = {**{h: row[i] for i, h in label_columns}, **labels}
        if rows.outside_by_date(row[ts_at]):
            continue
        ts_us = times.parse(row[ts_at])
        if ts_us is None:
            rows.skip(f"line {line_no}", f"timestamp {row[ts_at]!r} cannot be parsed")
            continue
        if rows.outside(ts_us):
            continue
        _add(rows, name, labels, row[value_at].strip(), ts_us, "dcgm_csv", line_no)
    return rows


def _parse_wide(path, reader, header, ts_at, wide, times, rows):
    bad = [header[i] for i, s in wide.items() if s is None]
    if bad:
        raise InputError(path, "malformed series name in header", column=bad[0], line=1)
    targets = {i: s for i, s in wide.items() if s[0] in DCGM_METRICS}
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
        for i, (name, labels) in targets.items():
            if row[i].strip():  # an empty cell: that series has no point at this time
                _add(rows, name, labels, row[i].strip(), ts_us, "dcgm_csv", line_no)
    return rows


def parse_prometheus_json(
    path: Path, payload: dict, times: TimestampParser, window: tuple[int, int] | None = None
) -> SampleRows:
    """Samples of a Prometheus HTTP API answer (``/api/v1/query_range`` matrix or ``/query`` vector)."""
    rows = SampleRows(str(path), window=window)
    data = payload.get("data")
    results = data.get("result") if isinstance(data, dict) else None
    if not isinstance(results, list):
        raise InputError(path, "Prometheus answer without data.result", column="data.result")
    for n, result in enumerate(results):
        if not isinstance(result, dict):
            rows.skip(f"result {n}", "not an object")
            continue
        labels = {str(k): str(v) for k, v in (result.get("metric") or {}).items()}
        name = labels.get("__name__")
        if name not in DCGM_METRICS:
            continue
        points = result.get("values") or ([result["value"]] if "value" in result else [])
        for point in points:
            if not (isinstance(point, list) and len(point) == 2):
                rows.skip(f"result {n}", f"point {point!r} is not [time, value]")
                continue
            ts_us = times.parse(str(point[0]))
            if ts_us is None:
                rows.skip(f"result {n}", f"timestamp {point[0]!r} cannot be parsed")
                continue
            if rows.outside(ts_us):
                continue
            _add(rows, name, labels, str(point[1]), ts_us, "dcgm_prometheus", None)
    return rows
