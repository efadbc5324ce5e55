"""Finding input files and loading their content, with the format told from the bytes, not the file name.

A file becomes either a ``JsonDocument`` (one JSON value: CloudWatch responses, or a list of records) or a
``Table`` (CSV, Parquet or JSON lines). Damage that makes the whole file unreadable raises ``InputError``;
a JSON line that does not parse is kept as a counted bad line so that the rest of the file still counts.
"""

from __future__ import annotations

import csv
import io
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq

from pipelines.errors import InputError
from pipelines.file_reading.content import decode_text, read_bytes
from pipelines.file_reading.listing import list_data_files
from pipelines.file_reading.mapping_csv import header_key
from pipelines.predictions.aliases import ENDPOINT, TIMESTAMP

LINE = "__line"

# Accepted spellings (compared after ``normalized``) of the columns every tabular format needs.
TIMESTAMP_ALIASES = TIMESTAMP.aliases
ENDPOINT_ALIASES = ENDPOINT.aliases


@dataclass
class JsonDocument:
    """A file holding one JSON value (a CloudWatch response, or an array of records)."""

    value: Any


@dataclass
class Table:
    """Rows of a tabular file; ``LINE`` holds the line (CSV, JSON lines) or row number (Parquet) of each."""

    frame: pl.DataFrame
    container: str
    line_word: str = "line"
    bad_lines: list[tuple[int, str]] = field(default_factory=list)


@dataclass
class EmptyFile:
    """A file with no bytes (or only white space): nothing to read and nothing to tell its format by."""


def discover_files(root: Path, mapping_file: Path | None) -> tuple[list[Path], dict[str, str]]:
    """List the data files under ``root`` (recursive, sorted) and the ones deliberately left out, with why."""
    return list_data_files(root, mapping_file=mapping_file)


def load_content(path: Path) -> JsonDocument | Table | EmptyFile:
    """Read one file and tell Parquet, JSON, JSON lines and CSV apart by their content (gzip is unwrapped)."""
    data = read_bytes(path)
    if data[:4] == b"PAR1":
        return _load_parquet(path, data)
    if not data.strip():
        return EmptyFile()
    text = decode_text(path, data, accepted="UTF-8 text, Parquet or gzip")
    stripped = text.lstrip()
    if stripped[:1] in ("{", "["):
        return _load_json(path, text)
    return _load_csv(path, text)


def _load_parquet(path: Path, data: bytes) -> Table:
    try:
        arrow = pq.read_table(pa.BufferReader(data))
        frame = pl.from_arrow(arrow)
    except (pa.ArrowException, OSError, pl.exceptions.PolarsError) as exc:
        raise InputError(path, f"corrupt or unreadable Parquet: {exc}") from exc
    assert isinstance(frame, pl.DataFrame)
    frame = frame.with_row_index(LINE, offset=1).with_columns(pl.col(LINE).cast(pl.Int64))
    return Table(frame, "parquet", line_word="row")


def _load_json(path: Path, text: str) -> JsonDocument | Table:
    try:
        return JsonDocument(json.loads(text))
    except json.JSONDecodeError as whole_error:
        first_line = text.lstrip().splitlines()[0]
        try:
            first = json.loads(first_line)
        except json.JSONDecodeError:
            raise InputError(
                path, f"invalid JSON: {whole_error.msg}", line=whole_error.lineno
            ) from whole_error
        if not isinstance(first, dict):
            raise InputError(path, "invalid JSON: " + whole_error.msg, line=whole_error.lineno) from None
    return _load_json_lines(path, text)


def _cell(value: Any) -> str | None:
    """One JSON value as text, so that every JSON-lines column has one type whatever each line held."""
    if value is None:
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return value
    if isinstance(value, int | float):
        return repr(value)
    return json.dumps(value, sort_keys=True)


def records_table(records: list[dict[str, Any]], lines: list[int], container: str) -> Table:
    """Build a Table of text columns from JSON objects (the union of their keys, missing keys NULL)."""
    columns: dict[str, None] = {}
    for record in records:
        for key in record:
            columns.setdefault(str(key), None)
    data: dict[str, list[Any]] = {LINE: lines}
    for column in columns:
        data[column] = [_cell(record.get(column)) for record in records]
    schema = {LINE: pl.Int64, **{column: pl.Utf8 for column in columns}}
    return Table(pl.DataFrame(data, schema=schema), container)


def _load_json_lines(path: Path, text: str) -> Table:
    records: list[dict[str, Any]] = []
    lines: list[int] = []
    bad: list[tuple[int, str]] = []
    for number, raw in enumerate(text.splitlines(), start=1):
        if not raw.strip():
            continue
        try:
            value = json.loads(raw)
        except json.JSONDecodeError as exc:
            bad.append((number, f"invalid JSON: {exc.msg}"))
            continue
        if not isinstance(value, dict):
            bad.append((number, f"a JSON line must be an object, not {type(value).__name__}"))
            continue
        records.append(value)
        lines.append(number)
    table = records_table(records, lines, "jsonl")
    table.bad_lines = bad
    return table


def _separator(header: str) -> str:
    counts = {sep: header.count(sep) for sep in (",", "\t", ";", "|")}
    best = max(counts, key=lambda sep: counts[sep])
    return best if counts[best] else ","


def _first_ragged_line(text: str, separator: str) -> int | None:
    reader = csv.reader(io.StringIO(text), delimiter=separator)
    width = None
    for row in reader:
        if not row:
            continue
        if width is None:
            width = len(row)
        elif len(row) != width:
            return reader.line_num
    return None


def _load_csv(path: Path, text: str) -> Table:
    header = text.lstrip("\r\n").split("\n", 1)[0]
    separator = _separator(header)
    try:
        frame = pl.read_csv(
            io.StringIO(text),
            separator=separator,
            infer_schema=False,
            row_index_name=LINE,
            row_index_offset=2,
        )
    except pl.exceptions.PolarsError as exc:
        line = _first_ragged_line(text, separator)
        if line is not None:
            problem = "the line has a different number of fields than the header"
            raise InputError(path, problem, line=line) from None
        raise InputError(path, f"unreadable CSV: {str(exc).splitlines()[0]}") from exc
    frame = frame.with_columns(pl.col(LINE).cast(pl.Int64))
    data_columns = [c for c in frame.columns if c != LINE]
    if len(data_columns) < 2:
        raise InputError(path, f"not a recognised format: one column {header.strip()[:80]!r} in the header")
    # A blank line parses as a row of NULLs; it carries no data, so it is neither a row nor a skipped line.
    frame = frame.filter(~pl.all_horizontal(pl.col(c).is_null() for c in data_columns))
    return Table(frame, "csv")


# Header names are matched as every mapping file's are (pipelines.file_reading.mapping_csv).
normalized = header_key


def find_column(columns: list[str], *aliases: str) -> str | None:
    """The first of ``aliases`` (normalized names) present among ``columns``, as spelled in the file."""
    by_name: dict[str, str] = {}
    for column in columns:
        by_name.setdefault(normalized(column), column)
    for alias in aliases:
        if alias in by_name:
            return by_name[alias]
    return None
