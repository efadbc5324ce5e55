"""The endpoint → workload mapping: a CSV ``endpoint,workload`` and/or a dict given by the caller."""

from __future__ import annotations

from pathlib import Path

from pipelines.errors import InputError
from pipelines.file_reading.mapping_csv import MappingColumn, header_key, read_mapping_csv

ENDPOINT_COLUMN = MappingColumn("endpoint", ("endpoint",))
WORKLOAD_COLUMN = MappingColumn("workload", ("workload",))


def is_mapping_table(columns: list[str]) -> bool:
    """True for a table whose columns are exactly ``endpoint`` and ``workload`` (a mapping, not data)."""
    return sorted(header_key(c) for c in columns) == ["endpoint", "workload"]


def read_mapping_file(path: Path) -> dict[str, str]:
    """Read a CSV ``endpoint,workload``; an endpoint mapped twice to different workloads is an error."""
    return read_mapping_csv(path, ENDPOINT_COLUMN, WORKLOAD_COLUMN, what="mapping file")


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
