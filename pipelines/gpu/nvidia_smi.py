"""nvidia-smi ``--query-gpu=... --format=csv[,noheader][,nounits]`` logs.

Header names are compared without case, spaces and unit brackets, so ``utilization.gpu [%]``,
``utilization.gpu`` and ``gpu_util`` are the same field. Fields used: ``timestamp``; ``index``; ``uuid``;
``name`` (the GPU model); ``utilization.gpu`` (percent, with or without `` %``); and, if present, an
explicit resource column (``instance_id``, ``InstanceId``, ``resource_id``), ``host``/``hostname`` and
``providerID``. Other fields (memory, temperature, ...) are ignored.

``noheader`` files take their columns from a header file beside them, the first of ``<file name>.header``,
``<stem>.header`` and ``nvidia-smi.header`` in the same folder, holding the field list as given to
``--query-gpu`` (``--query-gpu=timestamp,index,uuid,utilization.gpu`` or a csv header line). Without one,
the file must have exactly four columns, assumed to be nvidia-smi's ``timestamp, index, name,
utilization.gpu``; any other width is rejected rather than guessed.

Timestamps (``YYYY/MM/DD HH:MM:SS.mmm``) are host-local with no zone: they are read in the ``timezone`` of
the read. A header repeated mid-file (logs appended by a restarted nvidia-smi) starts a new column layout.
A ``[N/A]``/``[Not Supported]`` reading, or a line that cannot be parsed, is skipped and counted.
"""

from __future__ import annotations

import csv
import io
import re
from pathlib import Path

from pipelines.errors import InputError
from pipelines.gpu.records import GPU_UTIL, SampleRows, clean, parse_int, parse_number
from pipelines.gpu.resources import provider_instance
from pipelines.gpu.timestamps import TimestampParser

FORMAT = "nvidia_smi"
DEFAULT_NOHEADER_FIELDS = ("timestamp", "index", "name", "utilization.gpu")
_ALIASES = {
    "timestamp": ("timestamp", "time", "ts", "datetime", "date"),
    "index": ("index", "gpu_index", "gpu.index", "gpu"),
    "uuid": ("uuid", "gpu_uuid", "gpu.uuid"),
    "name": ("name", "gpu_name", "gpu.name", "gpu_model", "model"),
    "util": ("utilization.gpu", "gpu_util", "utilization_gpu", "gpu_utilization", "util.gpu", "util"),
    "resource": ("instance_id", "instanceid", "resource_id"),
    "host": ("host", "hostname"),
    "provider": ("providerid", "provider_id"),
}
UTIL_NAMES = frozenset(_ALIASES["util"])
_UNIT = re.compile(r"\s*[\[(][^\])]*[\])]\s*$")
_LOCAL_TIMESTAMP = re.compile(r"^\s*\d{4}[/-]\d{1,2}[/-]\d{1,2}[ T]\d{1,2}:\d{2}")


def normalize_field(name: str) -> str:
    """A header name without unit brackets, spaces or case: ``utilization.gpu [%]`` is ``utilization.gpu``."""
    return _UNIT.sub("", name.strip().lstrip("\ufeff")).strip().lower().replace(" ", "_")


def looks_like_local_timestamp(cell: str) -> bool:
    """True for nvidia-smi's ``YYYY/MM/DD HH:MM`` timestamps (a data row, not a header)."""
    return bool(_LOCAL_TIMESTAMP.match(cell))


def header_file(path: Path) -> Path | None:
    """The header file of a ``noheader`` log, if one lies beside it."""
    for name in (f"{path.name}.header", f"{path.name.split('.', 1)[0]}.header", "nvidia-smi.header"):
        candidate = path.parent / name
        if candidate.is_file():
            return candidate
    return None


def _read_header_file(path: Path) -> list[str]:
    try:
        text = path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(path, f"cannot read nvidia-smi header file: {exc}") from exc
    line = next((ln.strip() for ln in text.splitlines() if ln.strip()), "")
    line = re.sub(r"^--query-gpu[= ]", "", line)
    fields = [f for f in next(csv.reader([line], skipinitialspace=True), []) if f.strip()]
    if not fields:
        raise InputError(path, "nvidia-smi header file is empty")
    return fields


def _layout(path: Path, fields: list[str], line_no: int) -> dict[str, int]:
    names = [normalize_field(f) for f in fields]
    layout = {}
    for role, aliases in _ALIASES.items():
        at = next((names.index(a) for a in aliases if a in names), None)
        if at is not None:
            layout[role] = at
    if "timestamp" not in layout:
        raise InputError(
            path,
            "no timestamps: no timestamp column (run nvidia-smi with --query-gpu=timestamp,...)",
            line=line_no,
        )
    if "util" not in layout:
        raise InputError(path, "no utilization.gpu column", column="utilization.gpu", line=line_no)
    layout["width"] = len(fields)
    return layout


def parse_nvidia_smi(path: Path, text: str, times: TimestampParser) -> SampleRows:
    """Samples (metric ``gpu_util``) of an nvidia-smi CSV log."""
    rows = SampleRows(str(path))
    reader = csv.reader(io.StringIO(text, newline=None), skipinitialspace=True)
    layout: dict[str, int] | None = None
    header_cells: list[str] | None = None
    previous_ts: int | None = None
    for line_no, row in enumerate(reader, start=1):
        if not row:
            continue
        first = row[0].strip()
        data_row = first[:4].isdigit() and looks_like_local_timestamp(first)
        # Only lines that are not data are stripped whole: the data cells used are stripped when parsed.
        cells = row if data_row else [c.strip() for c in row]
        if not data_row and all(not c for c in cells):
            continue
        if not data_row and (layout is None or _is_header(cells)):
            # The first line, or a header repeated (or changed) by a restarted nvidia-smi appending to a log.
            if cells != header_cells:
                header_cells = cells
                layout = _layout(path, cells, line_no)
            continue
        if layout is None:
            layout = _layout(path, _noheader_fields(path, len(cells), line_no), line_no)
        if len(cells) != layout["width"]:
            rows.skip(f"line {line_no}", f"{len(cells)} fields, the header has {layout['width']}")
            continue
        ts_us = times.parse(cells[layout["timestamp"]], after=previous_ts)
        if ts_us is None:
            rows.skip(f"line {line_no}", f"timestamp {cells[layout['timestamp']]!r} cannot be parsed")
            continue
        raw_util = cells[layout["util"]]
        util = parse_number(raw_util)
        if util is None:
            rows.skip(f"line {line_no}", f"utilization.gpu {raw_util!r} is not available or not a number")
            continue
        previous_ts = ts_us
        rows.add(
            ts_us=ts_us,
            metric=GPU_UTIL,
            value=util / 100.0,
            source_format=FORMAT,
            gpu_index=parse_int(cells[layout["index"]]) if "index" in layout else None,
            gpu_uuid=clean(cells[layout["uuid"]]) if "uuid" in layout else None,
            gpu_model=clean(cells[layout["name"]]) if "name" in layout else None,
            explicit_resource=clean(cells[layout["resource"]]) if "resource" in layout else None,
            host=clean(cells[layout["host"]]) if "host" in layout else None,
            provider_id=provider_instance([cells[layout["provider"]]]) if "provider" in layout else None,
            line=line_no,
        )
    return rows


def _is_header(cells: list[str]) -> bool:
    names = {normalize_field(c) for c in cells}
    return bool(names & set(_ALIASES["timestamp"])) and bool(names & UTIL_NAMES)


def _noheader_fields(path: Path, width: int, line_no: int) -> list[str]:
    sidecar = header_file(path)
    if sidecar is not None:
        fields = _read_header_file(sidecar)
        if len(fields) != width:
            raise InputError(
                path, f"{width} fields, but header file {sidecar.name} names {len(fields)}", line=line_no
            )
        return fields
    if width != len(DEFAULT_NOHEADER_FIELDS):
        raise InputError(
            path,
            f"noheader log with {width} columns and no header file: only the 4-column default"
            f" ({', '.join(DEFAULT_NOHEADER_FIELDS)}) is assumed; put the --query-gpu field list in"
            f" {path.name}.header",
            line=line_no,
        )
    return list(DEFAULT_NOHEADER_FIELDS)
