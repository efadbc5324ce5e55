"""Pre-aggregated prediction counters: one row per interval and model, ``timestamp, model, count[, errors]``.

``count`` is every request in the interval, ``errors`` (optional, blank = 0) the failed ones among them,
so successful predictions are ``count - errors``. A line with an unreadable timestamp, an empty model, a
count that is text, negative or fractional, or more errors than requests, is skipped and counted.

Duplicates: overlapping exports repeat (timestamp, model) rows; each key counts once. Where two rows for one
key disagree, the one with the larger count (then the larger errors) is kept and the key counts as a conflict.
"""

from __future__ import annotations

from pathlib import Path

import polars as pl

from pipelines.errors import InputError
from pipelines.predictions.file_loading import ENDPOINT_ALIASES, LINE, TIMESTAMP_ALIASES, Table, find_column
from pipelines.predictions.file_rows import COUNTS, BadLines, FileRows, drop_bad_rows
from pipelines.predictions.value_parsing import UTC_DATETIME, parse_counts, parse_timestamps

COUNT_ALIASES = ("count",)
ERRORS_ALIASES = ("errors", "error_count", "failed", "failures")


def is_count_table(columns: list[str]) -> bool:
    """True when a table has a ``count`` column (the mark of pre-aggregated counters)."""
    return find_column(columns, *COUNT_ALIASES) is not None


def read_count_table(path: Path, table: Table, *, naive_timezone: str | None) -> FileRows:
    """One row per usable (timestamp, model) counter: count and errors."""
    frame = table.frame
    columns = [c for c in frame.columns if c != LINE]
    ts_col = find_column(columns, *TIMESTAMP_ALIASES)
    endpoint_col = find_column(columns, *ENDPOINT_ALIASES)
    count_col = find_column(columns, *COUNT_ALIASES)
    if ts_col is None:
        raise InputError(
            path, "missing required column (interval counts need a timestamp)", column="timestamp"
        )
    if endpoint_col is None:
        raise InputError(path, "missing required column (interval counts need a model)", column="model")
    assert count_col is not None
    errors_col = find_column(columns, *ERRORS_ALIASES)
    bad = BadLines(path)
    for line, problem in table.bad_lines:
        bad.add(problem, line=line, word=table.line_word)

    timestamps = parse_timestamps(frame[ts_col], naive_timezone=naive_timezone)
    counts = parse_counts(frame[count_col], empty="error")
    errors = (
        parse_counts(frame[errors_col], empty="zero")
        if errors_col is not None
        else parse_counts(pl.Series("errors", [0] * frame.height, dtype=pl.Int64))
    )
    work = pl.DataFrame(
        {
            LINE: frame[LINE],
            "timestamp": timestamps.values,
            "endpoint": frame[endpoint_col].cast(pl.Utf8).str.strip_chars(),
            "count": counts.values,
            "errors": errors.values,
        }
    )
    problems = work.select(
        endpoint=pl.when(pl.col("endpoint").is_null() | (pl.col("endpoint") == "")).then(
            pl.lit("empty model")
        ),
        excess=pl.when(pl.col("errors") > pl.col("count")).then(
            pl.format("{} errors exceed the count of {}", pl.col("errors"), pl.col("count"))
        ),
    )
    checks: list[tuple[str | pl.Series, pl.Series]] = [
        (ts_col, timestamps.problems),
        (endpoint_col, problems["endpoint"]),
        (count_col, counts.problems),
        (errors_col or "errors", errors.problems),
        (errors_col or "errors", problems["excess"]),
    ]
    work = drop_bad_rows(work, checks, bad, line_column=LINE, word=table.line_word)
    source = f"counts_{table.container}"
    out = work.select(
        pl.col("timestamp").cast(UTC_DATETIME),
        "endpoint",
        "count",
        "errors",
        pl.lit(source).alias("source"),
        pl.lit(str(path)).alias("source_file"),
    )
    return FileRows(
        COUNTS,
        source,
        out,
        skipped=bad.count,
        problems=bad.messages(),
        first_error=bad.errors[0] if bad.errors else None,
    )


def dedupe_counts(rows: pl.DataFrame) -> tuple[pl.DataFrame, int, list[str]]:
    """One row per (timestamp, model) across all files; conflicting rows keep the larger count."""
    merged = (
        rows.sort(["count", "errors", "source_file"], descending=[True, True, False])
        .group_by("timestamp", "endpoint", maintain_order=True)
        .agg(
            pl.col("count").first().alias("invocations"),
            pl.col("errors").first().alias("failed_requests"),
            pl.struct("count", "errors").n_unique().alias("versions"),
            pl.col("source").unique().sort().alias("sources"),
            pl.col("source_file").unique().sort().alias("source_files"),
        )
    )
    conflicts = merged.filter(pl.col("versions") > 1)
    messages = []
    if conflicts.height:
        first = conflicts.sort("timestamp", "endpoint").row(0, named=True)
        messages.append(
            f"interval counts: {conflicts.height} (timestamp, model) rows had different values in different "
            f"rows; kept the larger count (first: {first['endpoint']} {first['timestamp'].isoformat()} "
            f"in {', '.join(first['source_files'])})"
        )
    intervals = merged.drop("versions").with_columns(pl.lit(None, pl.Utf8).alias("variant"))
    return intervals, conflicts.height, messages
