"""Which GPU log format a file holds, judged from its content rather than its extension.

The bytes are turned into text by pipelines.file_reading.content (gzip, UTF-16, NUL bytes)."""

from __future__ import annotations

import csv
import json
from pathlib import Path

from pipelines.errors import InputError
from pipelines.gpu.cloudwatch import KNOWN_METRICS
from pipelines.gpu.dcgm import SAMPLE_LINE
from pipelines.gpu.nvidia_smi import TIMESTAMP_NAMES, UTIL_NAMES, looks_like_local_timestamp, normalize_field

PROMETHEUS_TEXT = "prometheus_text"
PROMETHEUS_JSON = "prometheus_json"
DCGM_CSV = "dcgm_csv"
NVIDIA_SMI = "nvidia_smi"
CLOUDWATCH_JSON = "cloudwatch_json"
CLOUDWATCH_CSV = "cloudwatch_csv"

_CLOUDWATCH_COLUMNS = frozenset(
    {"instanceid", "endpointname", "variantname", "inferencecomponentname", "metricname", "namespace"}
)
_SNIFF_LINES = 50


def detect(path: Path, text: str) -> tuple[str, object]:
    """The format of a log's text and, for JSON, the parsed payload (so that it is parsed once)."""
    stripped = text.lstrip()
    if not stripped:
        raise InputError(path, "empty file: no samples")
    if stripped[0] in "{[":
        return _detect_json(path, text)
    lines = [ln.strip() for ln in text.splitlines() if ln.strip()][:_SNIFF_LINES]
    if _is_prometheus_text(lines):
        return PROMETHEUS_TEXT, None
    rows = list(csv.reader(lines[:6], skipinitialspace=True))
    header = [h.strip().lstrip("\ufeff") for h in rows[0]]
    cells = [c for row in rows for c in row]
    if "__name__" in header or any("DCGM_FI_" in c for c in cells):
        return DCGM_CSV, None
    names = {normalize_field(h) for h in header}
    if looks_like_local_timestamp(header[0]) or names & UTIL_NAMES:
        return NVIDIA_SMI, None
    lowered = {h.lower() for h in header} | {c.strip().lower() for row in rows[1:] for c in row}
    if lowered & _CLOUDWATCH_COLUMNS or lowered & set(KNOWN_METRICS):
        return CLOUDWATCH_CSV, None
    if names & TIMESTAMP_NAMES:
        # A CSV with a timestamp but no known utilization header: read as nvidia-smi, whose reader names the
        # utilization headers it accepts.
        return NVIDIA_SMI, None
    raise InputError(
        path,
        "unknown format: not a DCGM/Prometheus export, an nvidia-smi --query-gpu CSV, nor"
        " CloudWatch/SageMaker GPU metrics (JSON or CSV)",
        line=1,
    )


def _is_prometheus_text(lines: list[str]) -> bool:
    for line in lines:
        if line.startswith(("# HELP ", "# TYPE ")):
            return True
        if line.startswith("#"):
            continue
        m = SAMPLE_LINE.match(line)
        if not m:
            return False
        try:
            float(m["value"])
        except ValueError:
            return False
        return True
    return False


def _detect_json(path: Path, text: str) -> tuple[str, object]:
    try:
        payload = json.loads(text)
    except json.JSONDecodeError as exc:
        raise InputError(path, f"invalid JSON: {exc.msg}", line=exc.lineno) from exc
    if isinstance(payload, dict) and isinstance(payload.get("data"), dict) and "result" in payload["data"]:
        return PROMETHEUS_JSON, payload
    items = payload if isinstance(payload, list) else [payload]
    if items and all(isinstance(i, dict) and ("MetricDataResults" in i or "Datapoints" in i) for i in items):
        return CLOUDWATCH_JSON, payload
    if isinstance(payload, dict) and "MetricDataQueries" in payload:
        raise InputError(path, "a GetMetricData request (MetricDataQueries) without results: no samples")
    raise InputError(
        path,
        "unknown JSON format: expected a GetMetricData answer (MetricDataResults), GetMetricStatistics"
        " (Datapoints) or a Prometheus query answer (data.result)",
    )
