"""Pre-aggregated prediction counters: one row per interval, model and (optionally) replica,
``timestamp, model[, replica], count[, errors]`` (header spellings: ``aliases``).

``count`` is every request in the interval, ``errors`` (optional, blank = 0) the failed ones among them,
so successful predictions are ``count - errors``. A line with an unreadable timestamp, an empty model, a
count that is text, negative or fractional, or more errors than requests, is skipped and counted.

Counts add up across replicas, pods, containers and hosts: a service of 20 replicas writes 20 rows per
interval, and the interval's count is their sum. Only a true duplicate collapses:

* with a replica column (``pod``, ``instance``, ``host``...), the same (timestamp, model, replica) read twice,
  in one file or in several (overlapping exports), counts once;
* without one, the rows of one file that share (timestamp, model) are different writers and are summed (a
  note says so: add a replica column so that a row written twice can be told from two replicas), and the
  same (timestamp, model) in several files is an overlapping export of the same total, counted once.

Where copies of one key disagree, the one with the larger count (then the larger errors) is kept and the key
counts as a conflict. Every collapsed copy is counted (``duplicates``) and the first is named in a warning.
"""

from __future__ import annotations

from pathlib import Path

import polars as pl

from pipelines.errors import InputError
from pipelines.file_reading.skipped import SkippedLines
from pipelines.predictions.aliases import COUNT, ENDPOINT, ERRORS, REPLICA, TIMESTAMP
from pipelines.predictions.file_loading import LINE, Table, find_column
from pipelines.predictions.file_rows import COUNTS, FileRows, drop_bad_rows, union_of_lists
from pipelines.predictions.value_parsing import UTC_DATETIME, Parsed, parse_counts, parse_timestamps

COUNT_ALIASES = COUNT.aliases
ERRORS_ALIASES = ERRORS.aliases


def is_count_table(columns: list[str]) -> bool:
    """True when a table has a count column (the mark of pre-aggregated counters)."""
    return find_column(columns, *COUNT.aliases) is not None


def replica_values(frame: pl.DataFrame, column: str | None) -> pl.Series:
    """The replica label of each row ("" when the file has no replica column or the cell is blank)."""
    if column is None:
        return pl.Series("replica", [""] * frame.height, dtype=pl.Utf8)
    return frame[column].cast(pl.Utf8).str.strip_chars().fill_null("").alias("replica")


def sum_unlabelled(
    work: pl.DataFrame, path: Path, what: str, value_columns: list[str]
) -> tuple[pl.DataFrame, list[str]]:
    """Without a replica column, rows of one file sharing (timestamp, model) are different writers: sum them."""
    grouped = work.group_by("timestamp", "endpoint", maintain_order=True).agg(
        pl.col(LINE).first(), pl.len().alias("rows"), *(pl.col(c).sum() for c in value_columns)
    )
    shared = grouped.filter(pl.col("rows") > 1)
    notes = []
    if shared.height:
        first = shared.row(0, named=True)
        notes.append(
            f"{path}: {shared.height} (timestamp, model) {what} appear on several rows and the file has no replica "
            f"column; summed them as different replicas (first: {first['endpoint']} "
            f"{first['timestamp'].isoformat()}, {first['rows']} rows). Add a replica column "
            f"({', '.join(REPLICA.aliases[:4])}...) so that a row written twice is not counted twice"
        )
    return grouped.drop("rows").with_columns(replica=pl.lit("", pl.Utf8)), notes


def read_count_table(path: Path, table: Table, *, naive_timezone: str | None) -> FileRows:
    """One row per usable (timestamp, model, replica) counter: count and errors."""
    frame = table.frame
    columns = [c for c in frame.columns if c != LINE]
    ts_col = find_column(columns, *TIMESTAMP.aliases)
    endpoint_col = find_column(columns, *ENDPOINT.aliases)
    count_col = find_column(columns, *COUNT.aliases)
    if ts_col is None:
        raise InputError(
            path, "missing required column (interval counts need a timestamp)", column="timestamp"
        )
    if endpoint_col is None:
        raise InputError(path, "missing required column (interval counts need a model)", column="model")
    assert count_col is not None
    errors_col = find_column(columns, *ERRORS.aliases)
    replica_col = find_column(columns, *REPLICA.aliases)
    bad = SkippedLines(path)
    for line, problem in table.bad_lines:
        bad.add(problem, line=line, word=table.line_word)

    timestamps = parse_timestamps(frame[ts_col], naive_timezone=naive_timezone)
    counts = parse_counts(frame[count_col], empty="error")
    errors = (
        parse_counts(frame[errors_col], empty="zero")
        if errors_col is not None
        else parse_counts(pl.Series("errors", [0] * frame.height, dtype=pl.Int64))
    )
    work, notes = checked_series(
        path,
        table,
        bad,
        ts_col=ts_col,
        timestamps=timestamps,
        endpoint_col=endpoint_col,
        replica_col=replica_col,
        value=("count", count_col, counts),
        error=("errors", errors_col, errors),
        excess="{} errors exceed the count of {}",
        what="counters",
    )
    source = f"counts_{table.container}"
    out = work.select(
        pl.col("timestamp").cast(UTC_DATETIME),
        "endpoint",
        "replica",
        pl.col("count").cast(pl.Float64),
        pl.col("errors").cast(pl.Float64),
        pl.lit(source).alias("source"),
        pl.lit(str(path)).alias("source_file"),
    )
    return FileRows(
        COUNTS,
        source,
        out,
        skipped=bad.count,
        problems=bad.messages(),
        notes=notes,
        first_error=bad.errors[0] if bad.errors else None,
        lines=frame.height + len(table.bad_lines),
        successful=float((out["count"] - out["errors"]).sum()),
    )


def dedupe_counts(
    rows: pl.DataFrame, what: str = "interval counts"
) -> tuple[pl.DataFrame, int, int, list[str]]:
    """One value per (timestamp, model, replica) across all files, summed over replicas into interval rows.

    Returns the intervals, the keys whose copies disagreed (conflicts), the copies collapsed (duplicates) and
    the warnings naming the first of each.
    """
    per_replica = (
        rows.sort(["count", "errors", "source_file"], descending=[True, True, False])
        .group_by("timestamp", "endpoint", "replica", maintain_order=True)
        .agg(
            pl.col("count").first(),
            pl.col("errors").first(),
            pl.len().alias("copies"),
            pl.struct("count", "errors").n_unique().alias("versions"),
            pl.col("source").unique().sort().alias("sources"),
            pl.col("source_file").unique().sort().alias("source_files"),
        )
    )
    conflicts = per_replica.filter(pl.col("versions") > 1).sort("timestamp", "endpoint", "replica")
    repeated = per_replica.filter((pl.col("copies") > 1) & (pl.col("versions") == 1))
    repeated = repeated.sort("timestamp", "endpoint", "replica")
    duplicates = int((per_replica["copies"] - 1).sum() or 0)
    messages = []

    def named(row: dict) -> str:
        replica = f" replica {row['replica']}" if row["replica"] else ""
        return (
            f"{row['endpoint']}{replica} {row['timestamp'].isoformat()} in {', '.join(row['source_files'])}"
        )

    if repeated.height:
        messages.append(
            f"{what}: {repeated.height} (timestamp, model, replica) keys were read more than once with the same "
            f"value (overlapping exports or a row written twice); each counted once (first: "
            f"{named(repeated.row(0, named=True))})"
        )
    if conflicts.height:
        messages.append(
            f"{what}: {conflicts.height} (timestamp, model, replica) keys had different values in different "
            f"rows; kept the larger count (first: {named(conflicts.row(0, named=True))})"
        )
    intervals = per_replica.group_by("timestamp", "endpoint", maintain_order=True).agg(
        pl.col("count").sum().alias("invocations"),
        pl.col("errors").sum().alias("failed_requests"),
        union_of_lists("sources").unique().sort().alias("sources"),
        union_of_lists("source_files").unique().sort().alias("source_files"),
    )
    intervals = intervals.with_columns(pl.lit(None, pl.Utf8).alias("variant"))
    return intervals, conflicts.height, duplicates, messages


def checked_series(
    path: Path,
    table: Table,
    bad: SkippedLines,
    *,
    ts_col: str,
    timestamps,
    endpoint_col: str,
    replica_col: str | None,
    value: tuple[str, str, Parsed],
    error: tuple[str, str | None, Parsed],
    excess: str,
    what: str,
) -> tuple[pl.DataFrame, list[str]]:
    """The usable rows of a counter or rate file: (timestamp, endpoint, replica, value, error), bad lines counted.

    ``value`` and ``error`` are (output name, source column, parsed values); ``excess`` formats an error figure
    above its value (error first). Without a replica column, rows sharing a (timestamp, model) are summed as
    different replicas (`sum_unlabelled`), with the note it returns.
    """
    value_name, value_col, values = value
    error_name, error_col, errors = error
    frame = table.frame
    work = pl.DataFrame(
        {
            LINE: frame[LINE],
            "timestamp": timestamps.values,
            "endpoint": frame[endpoint_col].cast(pl.Utf8).str.strip_chars(),
            "replica": replica_values(frame, replica_col),
            value_name: values.values,
            error_name: errors.values,
        }
    )
    problems = work.select(
        endpoint=pl.when(pl.col("endpoint").is_null() | (pl.col("endpoint") == "")).then(
            pl.lit("empty model")
        ),
        excess=pl.when(pl.col(error_name) > pl.col(value_name)).then(
            pl.format(excess, pl.col(error_name), pl.col(value_name))
        ),
    )
    checks: list[tuple[str | pl.Series, pl.Series]] = [
        (ts_col, timestamps.problems),
        (endpoint_col, problems["endpoint"]),
        (value_col, values.problems),
        (error_col or "errors", errors.problems),
        (error_col or "errors", problems["excess"]),
    ]
    work = drop_bad_rows(work, checks, bad, line_column=LINE, word=table.line_word)
    if replica_col is not None:
        return work, []
    return sum_unlabelled(work.drop("replica"), path, what, [value_name, error_name])
