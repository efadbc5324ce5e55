"""Mapping CSVs the readers are given beside their data, by one rule: ``host,resource_id`` (GPU ``hosts.csv``),
``endpoint,workload`` (predictions), ``namespace,pod,workload`` (Kubernetes pods).

Header names are compared after ``header_key`` (case, spaces, dashes, a BOM and spaces after a comma do not
matter); the text is read as every data file (gzip, UTF-16 with a BOM, UTF-8). Blank lines are skipped. A line
shorter than the header that lacks a column the mapping uses, or longer with anything in its extra cells, is an
error naming the line; so are an empty key or value and a key mapped twice to different values.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from pipelines.errors import InputError
from pipelines.file_reading.content import decode_text, read_bytes


def header_key(name: str) -> str:
    """Column name for matching: case, spaces, dashes and a stray BOM do not matter."""
    return name.strip().lstrip("\ufeff").lower().replace(" ", "_").replace("-", "_")


@dataclass(frozen=True)
class MappingColumn:
    """A column of a mapping file: its name in messages and the spellings accepted (compared by header_key)."""

    role: str
    spellings: tuple[str, ...]


@dataclass
class MappingTable:
    """The header and the non-blank lines (line number, cells) of a mapping CSV."""

    path: Path
    header: list[str]
    lines: list[tuple[int, list[str]]]

    def find(self, column: MappingColumn) -> int | None:
        """The position of ``column`` in the header (first accepted spelling found), None if absent."""
        keys = [header_key(h) for h in self.header]
        return next((keys.index(header_key(s)) for s in column.spellings if header_key(s) in keys), None)

    def rows(self, used: list[int]) -> Iterator[tuple[int, list[str]]]:
        """Each line's stripped cells, padded to the header; InputError for a line too short or too long."""
        width = len(self.header)
        for line, row in self.lines:
            short = len(row) < width and len(row) <= max(used)
            long = len(row) > width and any(cell.strip() for cell in row[width:])
            if short or long:
                raise InputError(self.path, f"{len(row)} fields where the header has {width}", line=line)
            yield line, [cell.strip() for cell in row[:width]] + [""] * (width - len(row))


def read_mapping_table(path: Path, *, what: str, expected_header: str) -> MappingTable:
    """Read a mapping CSV; InputError when it cannot be read or has no header."""
    text = decode_text(path, read_bytes(path))
    reader = csv.reader(io.StringIO(text, newline=None), skipinitialspace=True)
    header = next(reader, None)
    if header is None or not any(h.strip() for h in header):
        raise InputError(path, f"the {what} is empty; expected a header '{expected_header}'")
    lines = [(reader.line_num, row) for row in reader if any(cell.strip() for cell in row)]
    return MappingTable(Path(path), header, lines)


def read_mapping_csv(path: Path, key: MappingColumn, value: MappingColumn, *, what: str) -> dict[str, str]:
    """A two-column mapping ``key → value``; InputError naming the file, line and column of the first problem."""
    table = read_mapping_table(path, what=what, expected_header=f"{key.role},{value.role}")
    key_at, value_at = table.find(key), table.find(value)
    if key_at is None or value_at is None:
        missing = key if key_at is None else value
        raise InputError(
            path,
            f"the {what} needs columns {key.role} (or {', '.join(key.spellings[1:]) or 'no other name'}) and"
            f" {value.role} (or {', '.join(value.spellings[1:]) or 'no other name'})",
            column=missing.role,
        )
    mapping: dict[str, str] = {}
    for line, cells in table.rows([key_at, value_at]):
        k, v = cells[key_at], cells[value_at]
        if not k or not v:
            raise InputError(path, "empty value", column=key.role if not k else value.role, line=line)
        if mapping.get(k, v) != v:
            raise InputError(
                path,
                f"{key.role} {k!r} is mapped to both {mapping[k]!r} and {v!r}",
                column=value.role,
                line=line,
            )
        mapping[k] = v
    return mapping
