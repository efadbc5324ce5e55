"""The endpoint → workload mapping: a CSV ``endpoint,workload`` and/or a dict given by the caller."""

from __future__ import annotations

import csv
import io
from pathlib import Path

from pipelines.errors import InputError
from pipelines.predictions.file_loading import normalized


def is_mapping_table(columns: list[str]) -> bool:
    """True for a table whose columns are exactly ``endpoint`` and ``workload`` (a mapping, not data)."""
    return sorted(normalized(c) for c in columns) == ["endpoint", "workload"]


def read_mapping_file(path: Path) -> dict[str, str]:
    """Read a CSV ``endpoint,workload``; an endpoint mapped twice to different workloads is an error."""
    try:
        text = path.read_bytes().decode("utf-8-sig")
    except OSError as exc:
        raise InputError(path, f"cannot read the mapping file: {exc.strerror or exc}") from exc
    except UnicodeDecodeError as exc:
        raise InputError(path, "the mapping file is not UTF-8 text") from exc
    reader = csv.reader(io.StringIO(text))
    header = next(reader, None)
    if header is None:
        raise InputError(path, "the mapping file is empty; expected a header 'endpoint,workload'")
    names = [normalized(h) for h in header]
    for required in ("endpoint", "workload"):
        if required not in names:
            raise InputError(path, "missing required column in the mapping file", column=required)
    endpoint_at, workload_at = names.index("endpoint"), names.index("workload")
    mapping: dict[str, str] = {}
    for row in reader:
        if not any(cell.strip() for cell in row):
            continue
        line = reader.line_num
        if len(row) != len(header):
            raise InputError(path, f"{len(row)} fields where the header has {len(header)}", line=line)
        endpoint, workload = row[endpoint_at].strip(), row[workload_at].strip()
        if not endpoint or not workload:
            column = "endpoint" if not endpoint else "workload"
            raise InputError(path, "empty value", column=column, line=line)
        if mapping.get(endpoint, workload) != workload:
            raise InputError(
                path,
                f"endpoint {endpoint!r} is mapped to both {mapping[endpoint]!r} and {workload!r}",
                column="workload",
                line=line,
            )
        mapping[endpoint] = workload
    return mapping


def load_workload_map(mapping_file: Path | None, endpoint_map: dict[str, str] | None) -> dict[str, str]:
    """Merge the mapping file and the caller's dict; the dict wins where both name an endpoint."""
    mapping = read_mapping_file(Path(mapping_file)) if mapping_file is not None else {}
    for endpoint, workload in (endpoint_map or {}).items():
        if not isinstance(workload, str) or not workload.strip():
            raise InputError(
                "endpoint_map", f"workload must be a non-empty string, got {workload!r}", column=endpoint
            )
        mapping[str(endpoint)] = workload.strip()
    return mapping
