"""Vectorized parsing of timestamp, count and status columns that reports each bad value instead of raising.

Every parser returns the parsed values and, aligned with them, a problem text (NULL where the value was fine),
so that a reader can skip exactly the bad lines, count them and name the column and the problem.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import polars as pl

from pipelines.predictions.aliases import FAILED, OK, STATUS_WORDS, accepted_status_words

if TYPE_CHECKING:
    from polars.expr.whenthen import ChainedThen, Then  # the types of a when/then chain

UTC_DATETIME = pl.Datetime("us", "UTC")

# Epoch magnitude tells the unit apart: 1e11 s is the year 5138 and 1e11 ms is 1973, so any realistic
# timestamp falls unambiguously into one band.
_EPOCH_BANDS_US = ((1e11, 1_000_000), (1e14, 1_000), (1e17, 1))

TIMESTAMP_EXPECTED = "expected ISO 8601 with a zone (Z or +02:00) or epoch seconds/milliseconds"
# Zone-less times are refused unless a zone is configured: guessing UTC would shift a day's counts by hours.
NO_ZONE_HINT = "set MLCOST_PREDICTIONS_TIMEZONE to read zone-less times in a zone"


@dataclass
class Parsed:
    """Parsed values and, row by row, the problem that made a value unusable (NULL when it was fine)."""

    values: pl.Series
    problems: pl.Series


def _quoted(s: pl.Expr) -> pl.Expr:
    return pl.lit("'") + s.str.slice(0, 60) + pl.lit("'")


def resolve_zone(naive_timezone: str | None) -> str | None:
    """Check a configured zone name for naive timestamps; raise ValueError if it is unknown."""
    if naive_timezone is None:
        return None
    try:
        ZoneInfo(naive_timezone)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ValueError(f"unknown time zone {naive_timezone!r}") from exc
    return naive_timezone


def _epoch_us(num: pl.Expr) -> pl.Expr:
    """Epoch number (s, ms, us or ns by magnitude) → integer microseconds."""
    magnitude = num.abs()
    expr: Then | ChainedThen = pl.when(magnitude < _EPOCH_BANDS_US[0][0]).then(num * _EPOCH_BANDS_US[0][1])
    for limit, factor in _EPOCH_BANDS_US[1:]:
        expr = expr.when(magnitude < limit).then(num * factor)
    return expr.otherwise(num / 1_000).round(0).cast(pl.Int64, strict=False)


def _python_timestamp(text: str, naive_timezone: str | None) -> tuple[datetime | None, str | None]:
    """Slow path for ISO 8601 variants the vectorized formats miss (basic format, ``+02`` offsets...)."""
    candidate = text.strip()
    if candidate.endswith(("Z", "z")):
        candidate = candidate[:-1] + "+00:00"
    try:
        parsed = datetime.fromisoformat(candidate)
    except ValueError:
        return None, f"cannot parse timestamp '{text[:60]}' ({TIMESTAMP_EXPECTED})"
    if parsed.tzinfo is None:
        if naive_timezone is None:
            return None, f"timestamp '{text[:60]}' has no time zone ({TIMESTAMP_EXPECTED}; {NO_ZONE_HINT})"
        parsed = parsed.replace(tzinfo=ZoneInfo(naive_timezone))
    try:
        return parsed.astimezone(UTC), None
    except OverflowError:
        return None, f"timestamp '{text[:60]}' is out of range"


def parse_timestamps(series: pl.Series, *, naive_timezone: str | None = None) -> Parsed:
    """Parse a timestamp column of any dtype to UTC microseconds.

    Strings may be ISO 8601 with a zone (``Z``, ``+02:00``, ``+0200``, `` UTC``), a bare date (that UTC day),
    or epoch s/ms/us/ns. Timestamps without a zone are read in ``naive_timezone`` when given, else rejected.
    """
    if series.dtype == pl.Null:
        series = series.cast(pl.Utf8)
    name = series.name
    dtype = series.dtype
    frame = pl.DataFrame({"raw": series})
    if isinstance(dtype, pl.Datetime) or dtype == pl.Date:
        raw = pl.col("raw")
        if dtype == pl.Date:
            value = raw.cast(pl.Datetime("us")).dt.replace_time_zone("UTC")
            failed = pl.lit(None, dtype=pl.Utf8)
        elif isinstance(dtype, pl.Datetime) and dtype.time_zone is not None:
            value = raw.dt.convert_time_zone("UTC")
            failed = pl.lit(None, dtype=pl.Utf8)
        elif naive_timezone is not None:
            value = raw.dt.replace_time_zone(
                naive_timezone, ambiguous="null", non_existent="null"
            ).dt.convert_time_zone("UTC")
            failed = pl.lit(f"local time does not exist or is ambiguous in {naive_timezone}")
        else:
            value = pl.lit(None, dtype=UTC_DATETIME)
            failed = pl.lit(f"timestamps have no time zone ({TIMESTAMP_EXPECTED}; {NO_ZONE_HINT})")
        out = frame.select(v=value.cast(UTC_DATETIME)).with_columns(raw=series)
        out = out.select(
            "v",
            p=pl.when(pl.col("raw").is_null())
            .then(pl.lit("empty timestamp"))
            .when(pl.col("v").is_null())
            .then(failed),
        )
        return Parsed(out["v"].alias(name), out["p"].cast(pl.Utf8))
    if dtype.is_numeric():
        num = pl.col("raw").cast(pl.Float64) if dtype.is_float() else pl.col("raw").cast(pl.Int64)
        out = frame.select(
            v=_epoch_us(num).cast(pl.Datetime("us")).dt.replace_time_zone("UTC"),
            p=pl.when(pl.col("raw").is_null())
            .then(pl.lit("empty timestamp"))
            .when(pl.col("raw").cast(pl.Float64).is_nan() | pl.col("raw").cast(pl.Float64).is_infinite())
            .then(pl.lit(f"cannot parse timestamp ({TIMESTAMP_EXPECTED})")),
        )
        return Parsed(out["v"].alias(name), out["p"].cast(pl.Utf8))
    if dtype != pl.Utf8:
        out = frame.select(p=pl.lit(f"a {dtype} value is not a timestamp ({TIMESTAMP_EXPECTED})"))
        return Parsed(pl.Series(name, [None] * len(series), dtype=UTC_DATETIME), out["p"])

    return _parse_timestamp_text(series.cast(pl.Utf8).str.strip_chars(), naive_timezone)


def _timestamp_stages(naive_timezone: str | None) -> list:
    """Parsers from the commonest form to the rarest; each returns (value, problem) expressions."""
    text = pl.col("text")
    norm = (
        text.str.replace(r"^(\d{4}-\d{2}-\d{2})[ Tt]", "${1}T")
        .str.replace(r"\s*(?:Z|z|UTC|GMT)$", "+00:00")
        .str.replace(r"\s+([+-]\d{2}:?\d{2})$", "${1}")
    )
    no_problem = pl.lit(None, dtype=pl.Utf8)
    epoch = (
        pl.when(text.str.contains(r"^[+-]?\d+$"))
        .then(_epoch_us(text.cast(pl.Int64, strict=False)))
        .when(text.str.contains(r"^[+-]?(?:\d+\.\d*|\.\d+)(?:[eE][+-]?\d+)?$"))
        .then(_epoch_us(text.cast(pl.Float64, strict=False)))
        .cast(pl.Datetime("us"))
        .dt.replace_time_zone("UTC")
    )
    utc_z = text.str.to_datetime("%Y-%m-%dT%H:%M:%S%.fZ", strict=False, time_unit="us").dt.replace_time_zone(
        "UTC"
    )
    zoned = norm.str.to_datetime("%Y-%m-%dT%H:%M:%S%.f%z", strict=False, time_unit="us").dt.convert_time_zone(
        "UTC"
    )
    naive = norm.str.to_datetime("%Y-%m-%dT%H:%M:%S%.f", strict=False, time_unit="us")
    if naive_timezone is not None:
        local = naive.dt.replace_time_zone(naive_timezone, ambiguous="null", non_existent="null")
        naive_value = local.dt.convert_time_zone("UTC")
        naive_problem = pl.when(naive.is_not_null() & naive_value.is_null()).then(
            pl.lit(f"local time does not exist or is ambiguous in {naive_timezone}: ") + _quoted(text)
        )
    else:
        naive_value = pl.lit(None, dtype=UTC_DATETIME)
        naive_problem = pl.when(naive.is_not_null()).then(
            pl.lit("timestamp ")
            + _quoted(text)
            + pl.lit(f" has no time zone ({TIMESTAMP_EXPECTED}; {NO_ZONE_HINT})")
        )
    day = text.str.to_date("%Y-%m-%d", strict=False).cast(pl.Datetime("us")).dt.replace_time_zone("UTC")
    return [
        (epoch, no_problem),
        (utc_z, no_problem),
        (zoned, no_problem),
        (naive_value, naive_problem),
        (day, no_problem),
    ]


def _parse_timestamp_text(text: pl.Series, naive_timezone: str | None) -> Parsed:
    """Parse stripped text in stages, each applied only to the rows the earlier ones left unresolved."""
    name = text.name
    work = pl.DataFrame({"text": text}).with_row_index("i")
    empty = work["text"].is_null() | (work["text"] == "")
    resolved = [
        work.filter(empty).select("i", v=pl.lit(None, dtype=UTC_DATETIME), p=pl.lit("empty timestamp"))
    ]
    pending = work.filter(~empty)
    for value, problem in _timestamp_stages(naive_timezone):
        if pending.height == 0:
            break
        attempt = pending.with_columns(v=value.cast(UTC_DATETIME), p=problem.cast(pl.Utf8))
        done = pl.col("v").is_not_null() | pl.col("p").is_not_null()
        resolved.append(attempt.filter(done).select("i", "v", "p"))
        pending = attempt.filter(~done).select("i", "text")
    if pending.height:
        # Rare spellings (basic format, "+02" offsets...) and real garbage: one Python call per distinct text.
        slow = {t: _python_timestamp(t, naive_timezone) for t in pending["text"].unique().to_list()}
        resolved.append(
            pl.DataFrame(
                {
                    "i": pending["i"],
                    "v": [slow[t][0] for t in pending["text"]],
                    "p": [slow[t][1] for t in pending["text"]],
                },
                schema={"i": work["i"].dtype, "v": UTC_DATETIME, "p": pl.Utf8},
            )
        )
    out = pl.concat(resolved).sort("i")
    return Parsed(out["v"].alias(name), out["p"])


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
        shown = _quoted(pl.col("text"))
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
        shown = _quoted(text)
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


def utc_date(ts: pl.Expr) -> pl.Expr:
    """UTC day of a timestamp: 00:00:00 belongs to its own day, 23:59:59.999 to the one before it."""
    return ts.dt.convert_time_zone("UTC").dt.date()


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
