"""Application request logs, one row per request (CSV, Parquet, JSON lines or a JSON array of objects).

Columns (header spellings: ``aliases``): a timestamp (ISO 8601 with a zone, epoch s/ms, or zone-less local time
when a zone is configured), the ``model`` or ``endpoint`` (``endpoint`` wins when both are present), an optional
``status`` (HTTP code or a word of ``aliases.STATUS_WORDS``; blank means success) and an optional request id. A
line whose timestamp, endpoint or status cannot be read is skipped and counted. A line whose status says the
request has not finished (``PENDING``, ``RUNNING``...) is neither a prediction nor a failure nor a bad line: it
is counted apart (``unfinished``), and the request's finished line, if the log has one, is the one that counts.

Duplicates: overlapping exports repeat requests. With a request id, one row per (endpoint, request id) counts,
the first in file-name and line order. Without one, a whole row is the identity, but identical rows inside one
file are distinct requests (two calls in the same second look alike), so each distinct row counts as many
times as the file holding the most copies of it has them: repeating a file adds nothing, and requests that
really were identical are not collapsed.
"""

from __future__ import annotations

from pathlib import Path

import polars as pl

from pipelines.errors import InputError
from pipelines.file_reading.skipped import SkippedLines
from pipelines.predictions.aliases import ENDPOINT, FAILED, REQUEST_ID, STATUS, TIMESTAMP, UNFINISHED
from pipelines.predictions.file_loading import LINE, Table, find_column
from pipelines.predictions.file_rows import REQUEST_LOG, FileRows, drop_bad_rows
from pipelines.predictions.value_parsing import UTC_DATETIME, parse_status, parse_timestamps

REQUEST_ID_ALIASES = REQUEST_ID.aliases
STATUS_ALIASES = STATUS.aliases

_NULL_MARK = "\u2400"
_FIELD_SEP = "\x1f"


def _as_text(series: pl.Series) -> pl.Series:
    try:
        return series.cast(pl.Utf8)
    except pl.exceptions.PolarsError:
        return series.map_elements(repr, return_dtype=pl.Utf8, skip_nulls=False)


def row_keys(frame: pl.DataFrame, columns: list[str]) -> pl.Series:
    """The whole row as one text key (column names included, NULL distinct from empty) for exact matching."""
    parts = pl.DataFrame({c: _as_text(frame[c]) for c in sorted(columns)})
    return parts.select(
        pl.concat_str(
            [pl.lit(f"{c}=") + pl.col(c).fill_null(_NULL_MARK) for c in parts.columns],
            separator=_FIELD_SEP,
        )
    ).to_series()


def read_request_table(path: Path, table: Table, *, naive_timezone: str | None) -> FileRows:
    """One row per usable request: timestamp, endpoint, failed, request id and the row's identity key."""
    frame = table.frame
    columns = [c for c in frame.columns if c != LINE]
    ts_col = find_column(columns, *TIMESTAMP.aliases)
    endpoint_col = find_column(columns, *ENDPOINT.aliases)
    if ts_col is None:
        raise InputError(path, "missing required column (request logs need a timestamp)", column="timestamp")
    if endpoint_col is None:
        raise InputError(
            path, "missing required column (request logs need a model or endpoint)", column="model"
        )
    status_col = find_column(columns, *STATUS_ALIASES)
    id_col = find_column(columns, *REQUEST_ID_ALIASES)
    bad = SkippedLines(path)
    for line, problem in table.bad_lines:
        bad.add(problem, line=line, word=table.line_word)

    timestamps = parse_timestamps(frame[ts_col], naive_timezone=naive_timezone)
    endpoint = frame[endpoint_col].cast(pl.Utf8).str.strip_chars()
    status = (
        parse_status(frame[status_col])
        if status_col is not None
        else parse_status(pl.Series("status", [None] * frame.height, dtype=pl.Utf8))
    )
    request_id = (
        _as_text(frame[id_col]).str.strip_chars() if id_col is not None else pl.Series([None] * frame.height)
    )
    work = pl.DataFrame(
        {
            LINE: frame[LINE],
            "timestamp": timestamps.values,
            "endpoint": endpoint,
            "outcome": status.values,
            "request_id": request_id.cast(pl.Utf8),
            "row_key": row_keys(frame, columns),
        }
    )
    endpoint_problem = work.select(
        pl.when(pl.col("endpoint").is_null() | (pl.col("endpoint") == "")).then(
            pl.lit("empty model/endpoint")
        )
    ).to_series()
    checks: list[tuple[str | pl.Series, pl.Series]] = [
        (ts_col, timestamps.problems),
        (endpoint_col, endpoint_problem),
        (status_col or "status", status.problems),
    ]
    work = drop_bad_rows(work, checks, bad, line_column=LINE, word=table.line_word)
    unfinished = work.filter(pl.col("outcome") == UNFINISHED).height
    work = work.filter(pl.col("outcome") != UNFINISHED).with_columns(failed=pl.col("outcome") == FAILED)
    source = f"request_log_{table.container}"
    out = work.select(
        pl.col("timestamp").cast(UTC_DATETIME),
        "endpoint",
        "failed",
        pl.when(pl.col("request_id") != "").then(pl.col("request_id")).alias("request_id"),
        "row_key",
        pl.col(LINE).cast(pl.Int64).alias("line"),
        pl.lit(source).alias("source"),
        pl.lit(str(path)).alias("source_file"),
    )
    return FileRows(
        REQUEST_LOG,
        source,
        out,
        skipped=bad.count,
        problems=bad.messages(),
        notes=[f"{path}: {unfinished} requests not finished (pending, running...): not counted"]
        if unfinished
        else [],
        first_error=bad.errors[0] if bad.errors else None,
        lines=frame.height + len(table.bad_lines),
        unfinished=unfinished,
        successful=float(out.filter(~pl.col("failed")).height),
    )


def _as_interval(frame: pl.DataFrame, copies: pl.Expr) -> pl.DataFrame:
    return frame.select(
        "timestamp",
        "endpoint",
        pl.lit(None, pl.Utf8).alias("variant"),
        copies.cast(pl.Int64).alias("invocations"),
        (copies * pl.col("failed").cast(pl.Int64)).cast(pl.Int64).alias("failed_requests"),
        "sources",
        "source_files",
    )


def dedupe_requests(rows: pl.DataFrame) -> tuple[pl.DataFrame, int, list[str]]:
    """Collapse repeated requests across files (see the module docstring) into interval rows."""
    # Most requests occur once; only the repeated ones pay for grouping.
    singles_lists = (
        pl.concat_list("source").alias("sources"),
        pl.concat_list("source_file").alias("source_files"),
    )
    with_id = rows.filter(pl.col("request_id").is_not_null())
    repeated = with_id.select(pl.struct("endpoint", "request_id").is_duplicated()).to_series()
    id_singles = with_id.filter(~repeated).with_columns(*singles_lists)
    by_id = (
        with_id.filter(repeated)
        .sort("source_file", "line")
        .group_by("endpoint", "request_id", maintain_order=True)
        .agg(
            pl.col("timestamp").first(),
            pl.col("failed").first(),
            pl.struct("timestamp", "failed").n_unique().alias("versions"),
            pl.col("source").unique().sort().alias("sources"),
            pl.col("source_file").unique().sort().alias("source_files"),
        )
    )
    without_id = rows.filter(pl.col("request_id").is_null())
    repeated = without_id["row_key"].is_duplicated()
    row_singles = without_id.filter(~repeated).with_columns(*singles_lists)
    per_file = (
        without_id.filter(repeated)
        .sort("source_file", "line")
        .group_by("row_key", "source_file", maintain_order=True)
        .agg(pl.len().alias("copies"), pl.col("timestamp", "endpoint", "failed", "source").first())
    )
    by_row = per_file.group_by("row_key", maintain_order=True).agg(
        pl.col("copies").max(),
        pl.col("timestamp", "endpoint", "failed").first(),
        pl.col("source").unique().sort().alias("sources"),
        pl.col("source_file").unique().sort().alias("source_files"),
    )
    intervals = pl.concat(
        [
            _as_interval(id_singles, pl.lit(1)),
            _as_interval(by_id, pl.lit(1)),
            _as_interval(row_singles, pl.lit(1)),
            _as_interval(by_row, pl.col("copies")),
        ]
    )
    conflicts = by_id.filter(pl.col("versions") > 1)
    messages = []
    if conflicts.height:
        first = conflicts.row(0, named=True)
        messages.append(
            f"request logs: {conflicts.height} request ids appear with different timestamps or statuses; "
            f"kept the first by file name and line (first: {first['endpoint']} {first['request_id']} "
            f"in {', '.join(first['source_files'])})"
        )
    return intervals, conflicts.height, messages
