"""Vectorized parsing of count, rate and status columns that reports each bad value instead of raising.

Every parser returns the parsed values and, aligned with them, a problem text (NULL where the value was fine),
so that a reader can skip exactly the bad lines, count them and name the column and the problem.
"""

from __future__ import annotations

import polars as pl

# Timestamps follow the rule every reader shares (pipelines.file_reading.timestamps); re-exported for the readers.
from pipelines.file_reading.timestamps import (
    TIMESTAMP_EXPECTED,
    UTC_DATETIME,
    Parsed,
    parse_timestamps,
    quoted,
    resolve_zone,
    utc_date,
)
from pipelines.predictions.aliases import FAILED, OK, STATUS_WORDS, accepted_status_words


def parse_counts(series: pl.Series, *, empty: str = "error") -> Parsed:
    """Parse a count column (whole, non-negative numbers) to Int64.

    ``empty`` says what a blank cell means: ``"error"`` (a bad line), ``"zero"``, or ``"missing"`` (NULL).
    """
    name = series.name
    dtype = series.dtype
    frame = pl.DataFrame({"raw": series})
    if dtype == pl.Utf8:
        text = pl.col("raw").str.strip_chars()
        frame = frame.with_columns(
            text=text,
            num=pl.when(text.str.contains(r"^[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?$")).then(
                text.cast(pl.Float64, strict=False)
            ),
        )
        is_empty = pl.col("text").is_null() | (pl.col("text") == "")
        not_number = pl.col("num").is_null() & ~is_empty
        shown = quoted(pl.col("text"))
    elif dtype.is_numeric():
        frame = frame.with_columns(num=pl.col("raw").cast(pl.Float64))
        is_empty = pl.col("raw").is_null()
        not_number = pl.col("num").is_nan() | pl.col("num").is_infinite()
        shown = pl.col("raw").cast(pl.Utf8)
    else:
        frame = frame.with_columns(num=pl.lit(None, dtype=pl.Float64))
        is_empty = pl.col("raw").is_null()
        not_number = ~is_empty
        shown = pl.lit(f"a {dtype} value")
    if empty == "error":
        empty_problem = pl.lit("empty count")
        empty_value = pl.lit(None, dtype=pl.Int64)
    else:
        empty_problem = pl.lit(None, dtype=pl.Utf8)
        empty_value = pl.lit(0 if empty == "zero" else None, dtype=pl.Int64)
    out = frame.select(
        p=pl.when(is_empty)
        .then(empty_problem)
        .when(not_number)
        .then(pl.lit("not a number: ") + shown)
        .when(pl.col("num") < 0)
        .then(pl.lit("negative count: ") + shown)
        .when(pl.col("num") != pl.col("num").round(0))
        .then(pl.lit("not a whole number: ") + shown)
        # Beyond Int64 the cast below would give NULL: say so, so the line is skipped and counted, not lost.
        .when(pl.col("num") >= 2.0**63)
        .then(pl.lit("count too large: ") + shown),
        v=pl.when(is_empty).then(empty_value).otherwise(pl.col("num").cast(pl.Int64, strict=False)),
    )
    values = frame.select(v=out["v"]).with_columns(pl.when(out["p"].is_null()).then(pl.col("v")))["v"]
    return Parsed(values.alias(name), out["p"].cast(pl.Utf8))


def parse_status(series: pl.Series) -> Parsed:
    """Parse a request status to its outcome (``aliases.OK`` / ``FAILED`` / ``UNFINISHED``).

    2xx codes, blank and the ok words succeed; other codes 100-599 and the failure words fail; the words of
    ``aliases.STATUS_WORDS`` are compared lower-cased. Anything else is a problem naming what is accepted.
    """
    name = series.name
    dtype = series.dtype
    frame = pl.DataFrame({"raw": series})
    if dtype == pl.Boolean:
        out = frame.select(
            v=pl.when(pl.col("raw").fill_null(True)).then(pl.lit(OK)).otherwise(pl.lit(FAILED)),
            p=pl.lit(None, dtype=pl.Utf8),
        )
        return Parsed(out["v"].alias(name), out["p"])
    if dtype.is_integer():
        code = pl.col("raw").cast(pl.Int64)
        text = pl.col("raw").cast(pl.Utf8)
        is_empty = pl.col("raw").is_null()
        word = pl.lit(None, dtype=pl.Utf8)
    else:
        text = pl.col("raw").cast(pl.Utf8).str.strip_chars()
        code = pl.when(text.str.contains(r"^\d{3}(?:\.0*)?$")).then(
            text.cast(pl.Float64, strict=False).cast(pl.Int64)
        )
        is_empty = text.is_null() | (text == "")
        word = text.str.to_lowercase().replace_strict(STATUS_WORDS, default=None, return_dtype=pl.Utf8)
    valid_code = code.is_between(100, 599).fill_null(False)
    out = frame.select(
        v=pl.when(is_empty)
        .then(pl.lit(OK))
        .when(word.is_not_null())
        .then(word)
        .when(valid_code)
        .then(pl.when(code.is_between(200, 299)).then(pl.lit(OK)).otherwise(pl.lit(FAILED))),
        p=pl.when(is_empty | word.is_not_null() | valid_code)
        .then(None)
        .otherwise(
            pl.lit("unknown status '") + text.str.slice(0, 60) + pl.lit(f"' ({accepted_status_words()})")
        ),
    )
    return Parsed(out["v"].alias(name), out["p"].cast(pl.Utf8))


def parse_rates(series: pl.Series) -> Parsed:
    """Parse a per-second rate column to Float64: finite and not negative (a blank cell is a bad line)."""
    name = series.name
    frame = pl.DataFrame({"raw": series})
    if series.dtype == pl.Utf8:
        text = pl.col("raw").str.strip_chars()
        num: pl.Expr = pl.when(text.str.contains(r"^[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?$")).then(
            text.cast(pl.Float64, strict=False)
        )
        is_empty = text.is_null() | (text == "")
        shown = quoted(text)
    elif series.dtype.is_numeric():
        num = pl.col("raw").cast(pl.Float64)
        is_empty = pl.col("raw").is_null()
        shown = pl.col("raw").cast(pl.Utf8)
    else:
        num = pl.lit(None, dtype=pl.Float64)
        is_empty = pl.col("raw").is_null()
        shown = pl.lit(f"a {series.dtype} value")
    out = frame.select(
        p=pl.when(is_empty)
        .then(pl.lit("empty rate"))
        .when(num.is_null() | num.is_nan() | num.is_infinite())
        .then(pl.lit("not a finite number: ") + shown)
        .when(num < 0)
        .then(pl.lit("negative rate: ") + shown),
        v=num,
    )
    values = out.select(pl.when(pl.col("p").is_null()).then(pl.col("v")))["v"]
    return Parsed(values.alias(name), out["p"].cast(pl.Utf8))


__all__ = [
    "Parsed",
    "TIMESTAMP_EXPECTED",
    "UTC_DATETIME",
    "parse_counts",
    "parse_rates",
    "parse_status",
    "parse_timestamps",
    "resolve_zone",
    "utc_date",
]
