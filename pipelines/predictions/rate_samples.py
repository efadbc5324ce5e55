"""Rate samples: requests per second per container at a fixed spacing, for serving stacks that export only
rates, e.g. a Prometheus range query ``sum by (container, model) (rate(requests_total[1m]))`` written as
``timestamp,container,model,qps`` (header spellings: ``aliases``).

The count of a sample is ``rate × spacing``, summed over containers (the same additivity and duplicate rules
as the counters, see ``interval_counts``). The spacing is the step of the file: the median gap between
consecutive samples of one series (model, container). A sample stands for the step that ends at its
timestamp (Prometheus ``rate()`` looks back), so a sample at 00:00:00 counts on the day before. Gaps longer
than the step are missing samples: their requests are not counted, and a note says how many steps are
missing. A day's total is rounded to whole requests; rates themselves are averages, so a fraction of a
request per interval is kept until then.

A line with an unreadable timestamp, an empty model, or a rate that is blank, not a number (Prometheus
writes ``NaN`` where there was no data) or negative is skipped and counted.
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import polars as pl

from pipelines.errors import InputError
from pipelines.file_reading.skipped import SkippedLines
from pipelines.predictions.aliases import ENDPOINT, ERROR_RATE, RATE, REPLICA, TIMESTAMP
from pipelines.predictions.file_loading import LINE, Table, find_column
from pipelines.predictions.file_rows import RATES, FileRows
from pipelines.predictions.interval_counts import checked_series
from pipelines.predictions.value_parsing import UTC_DATETIME, parse_rates, parse_timestamps


def is_rate_table(columns: list[str]) -> bool:
    """True when a table has a requests-per-second column."""
    return find_column(columns, *RATE.aliases) is not None


def sample_step(work: pl.DataFrame) -> timedelta | None:
    """The (lower) median gap between consecutive samples of one series (None when no series has two samples).

    The median, not the commonest gap: a sampler's jitter makes every gap differ by a few milliseconds, and the
    occasional missing sample (a gap of two steps) must not stretch every other sample.
    """
    gaps = (
        work.select("timestamp", "endpoint", "replica")
        .unique()
        .sort("endpoint", "replica", "timestamp")
        .select(gap=pl.col("timestamp").diff().over("endpoint", "replica"))
        .drop_nulls()
        .filter(pl.col("gap") > timedelta(0))
    )
    if gaps.height == 0:
        return None
    # The lower median: of two middle gaps (one step, one hole), the step.
    median_us = gaps.select(pl.col("gap").dt.total_microseconds().quantile(0.5, interpolation="lower")).item()
    return timedelta(microseconds=round(median_us))


def read_rate_table(path: Path, table: Table, *, naive_timezone: str | None) -> FileRows:
    """One row per usable (interval, model, container): requests and errors (rate × step)."""
    frame = table.frame
    columns = [c for c in frame.columns if c != LINE]
    ts_col = find_column(columns, *TIMESTAMP.aliases)
    endpoint_col = find_column(columns, *ENDPOINT.aliases)
    rate_col = find_column(columns, *RATE.aliases)
    if ts_col is None:
        raise InputError(path, "missing required column (rate samples need a timestamp)", column="timestamp")
    if endpoint_col is None:
        raise InputError(path, "missing required column (rate samples need a model)", column="model")
    assert rate_col is not None
    error_col = find_column(columns, *ERROR_RATE.aliases)
    replica_col = find_column(columns, *REPLICA.aliases)
    bad = SkippedLines(path)
    for line, problem in table.bad_lines:
        bad.add(problem, line=line, word=table.line_word)

    timestamps = parse_timestamps(frame[ts_col], naive_timezone=naive_timezone)
    rates = parse_rates(frame[rate_col])
    if error_col is not None:
        raw_errors = frame[error_col]  # a blank error rate is no error, as a blank errors count is
        if raw_errors.dtype == pl.Utf8:
            raw_errors = raw_errors.str.strip_chars().fill_null("").str.replace(r"^$", "0")
        errors = parse_rates(raw_errors.fill_null(0))
    else:
        errors = parse_rates(pl.Series("errors", [0.0] * frame.height))
    work, notes = checked_series(
        path,
        table,
        bad,
        ts_col=ts_col,
        timestamps=timestamps,
        endpoint_col=endpoint_col,
        replica_col=replica_col,
        value=("rate", rate_col, rates),
        error=("error_rate", error_col, errors),
        excess="error rate {} exceeds the rate {}",
        what="rate samples",
    )
    step = sample_step(work)
    if step is None and work.height:
        raise InputError(
            path,
            "cannot tell the spacing of the rate samples: no series (model, container) has two samples",
            column=ts_col,
        )
    step = step or timedelta(0)
    seconds = step.total_seconds()
    series = work.sort("endpoint", "replica", "timestamp").with_columns(
        gap=pl.col("timestamp").diff().over("endpoint", "replica")
    )
    # A gap of about n steps is n - 1 missing samples; the jitter of a sampler rounds away.
    missing = series.filter(pl.col("gap") > step).select(
        (pl.col("gap").dt.total_microseconds() / (seconds * 1e6)).round(0).sum() - pl.len()
    )
    missing_steps = int(missing.item() or 0) if series.height else 0
    irregular = series.filter((pl.col("gap") < step / 2) & (pl.col("gap") > timedelta(0))).height
    if missing_steps:
        notes.append(
            f"{path}: {missing_steps} samples of {seconds:g} s missing (gaps in a series); "
            "their requests are not counted"
        )
    if irregular:
        notes.append(
            f"{path}: {irregular} samples closer than the step of {seconds:g} s; each counted as one step"
        )
    source = f"rates_{table.container}"
    out = work.select(
        # A sample stands for the step ending at its timestamp: the interval starts one step earlier.
        (pl.col("timestamp") - pl.lit(step)).cast(UTC_DATETIME).alias("timestamp"),
        "endpoint",
        "replica",
        (pl.col("rate") * seconds).alias("count"),
        (pl.col("error_rate") * seconds).alias("errors"),
        pl.lit(source).alias("source"),
        pl.lit(str(path)).alias("source_file"),
    )
    return FileRows(
        RATES,
        source,
        out,
        skipped=bad.count,
        problems=bad.messages(),
        notes=notes,
        first_error=bad.errors[0] if bad.errors else None,
        lines=frame.height + len(table.bad_lines),
        successful=float((out["count"] - out["errors"]).sum()),
    )
