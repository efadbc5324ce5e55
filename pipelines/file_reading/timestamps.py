"""Timestamps of input files turned into UTC instants (microseconds since the epoch): one rule for every reader.

The rule, the same row by row (``TimestampParser``, for readers that walk lines) and a column at once
(``parse_timestamps``, for readers that hold a polars frame):

- ISO 8601 with a zone keeps its zone: ``Z``/``z``, `` UTC``/`` GMT``, ``+02:00``, ``+0200``, ``+02``, with or
  without a space before it; ``T`` or a space between date and time; the basic form ``20261031T120000Z``.
- ``YYYY/MM/DD HH:MM:SS.mmm`` (nvidia-smi) is read like ``YYYY-MM-DD``.
- A bare date (``2026-10-31``) is that UTC day.
- A time without a zone is read in the configured IANA zone; a reader that configures none refuses it (a guessed
  UTC would move a day's figures by hours). A local time repeated when clocks go back reads as its first
  occurrence (or its second, when the log's previous sample says time moved on); a local time skipped when clocks
  go forward reads with the offset before the change.
- A bare number is epoch time in the unit that puts it between 1973 and 5138: seconds below 1e11, milliseconds
  below 1e14, microseconds below 1e17, nanoseconds below 1e20. A number that fits none (below 1e8 s: a count or a
  wrong column, not a time) is not a timestamp.

``may_hold_times_within`` tells, from a file's text, whether it can hold a time inside a window, so that a reader
of one day skips the files of other days without parsing their rows.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import polars as pl

from pipelines.errors import InputError

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_ONE_US = timedelta(microseconds=1)
_NUMBER = re.compile(r"^[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?$")
_INTEGER = re.compile(r"^[+-]?\d+$")
_SLASH_DATE = re.compile(r"^(\d{4})/(\d{1,2})/(\d{1,2})")
_UTC_WORD = re.compile(r"\s*(?:Z|z|UTC|GMT)$")
_SPACED_OFFSET = re.compile(r"\s+([+-]\d{2}(?::?\d{2})?)$")
# (magnitude below which, microseconds per unit): seconds, milliseconds, microseconds, nanoseconds.
EPOCH_BANDS = ((1e11, 1_000_000), (1e14, 1_000), (1e17, 1), (1e20, 0.001))
# 1e8 s (1973-03-03): earlier "epoch times" are counts or a wrong column, not a log's time.
MIN_EPOCH_US = 100_000_000 * 1_000_000

UTC_DATETIME = pl.Datetime("us", "UTC")
TIMESTAMP_EXPECTED = "expected ISO 8601 with a zone (Z or +02:00) or epoch seconds/milliseconds"
# Zone-less times are refused unless a zone is configured: guessing UTC would shift a day's counts by hours.
NO_ZONE_HINT = "set MLCOST_PREDICTIONS_TIMEZONE to read zone-less times in a zone"

_NAME_ISO = re.compile(
    r"(?<!\d)(\d{4})-?(\d{2})-?(\d{2})[T_ ](\d{2})[:\-]?(\d{2})[:\-]?(\d{2})(?:[.,](\d{1,9}))?"
    r"(Z|[+-]\d{2}:?\d{2})?(?!\d)"
)
_NAME_EPOCH = re.compile(r"(?<!\d)(\d{10}|\d{13})(?!\d)")


def zone_for(timezone: str) -> ZoneInfo:
    """The IANA zone named ``timezone``; InputError if there is no such zone."""
    try:
        return ZoneInfo(timezone)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise InputError("timezone", f"unknown IANA time zone {timezone!r}") from exc


def resolve_zone(naive_timezone: str | None) -> str | None:
    """Check a configured zone name for naive timestamps; raise ValueError if it is unknown."""
    if naive_timezone is None:
        return None
    try:
        ZoneInfo(naive_timezone)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ValueError(f"unknown time zone {naive_timezone!r}") from exc
    return naive_timezone


def to_us(dt: datetime) -> int:
    """Microseconds since the epoch of an aware datetime."""
    return (dt - _EPOCH) // _ONE_US


def epoch_us(text: str) -> int | None:
    """Microseconds of an epoch number written as text (unit by magnitude, see the module), None if none fits."""
    if _INTEGER.match(text):
        number = int(text)
        magnitude: float = abs(number)
        if magnitude < 1e11:
            us = number * 1_000_000
        elif magnitude < 1e14:
            us = number * 1_000
        elif magnitude < 1e17:
            us = number
        elif magnitude < 1e20:
            us = round(number / 1_000)
        else:
            return None
    else:
        value = float(text)
        magnitude = float(abs(value))
        factor = next((f for limit, f in EPOCH_BANDS if magnitude < limit), None)
        if factor is None:
            return None
        us = round(value * factor)
    return us if us >= MIN_EPOCH_US else None


def normalized_iso(text: str) -> str:
    """``text`` in a spelling ``datetime.fromisoformat`` reads: slashes, zone words and spaced offsets undone."""
    m = _SLASH_DATE.match(text)
    if m:
        text = f"{int(m[1]):04d}-{int(m[2]):02d}-{int(m[3]):02d}{text[m.end() :]}"
    text = _UTC_WORD.sub("+00:00", text)
    return _SPACED_OFFSET.sub(r"\1", text)


class TimestampParser:
    """Parses the timestamp strings of one read, caching each distinct string (logs repeat them per GPU).

    ``timezone`` is the zone of times without one; None refuses them (the problem says how to configure one).
    """

    def __init__(self, timezone: str | None = "UTC", *, no_zone_hint: str = NO_ZONE_HINT):
        self.timezone = timezone
        self.zone = zone_for(timezone) if timezone is not None else None
        self.no_zone_hint = no_zone_hint
        self._cache: dict[str, tuple[tuple[int, int] | None, str | None]] = {}

    def parse(self, text: str, *, after: int | None = None) -> int | None:
        """UTC microseconds of ``text``, or None if it is not a timestamp.

        ``after`` is the previous instant of the same log: a local time repeated when clocks go back
        (the ambiguous hour) is read as its second occurrence when the first would go back in time.
        """
        readings, _ = self.parse_with_problem(text)
        if readings is None:
            return None
        first, second = readings
        if after is not None and first < after <= second:
            return second
        return first

    def parse_with_problem(self, text: str) -> tuple[tuple[int, int] | None, str | None]:
        """Both readings (earlier, later) of ``text``, or None and the problem that makes it no timestamp."""
        cached = self._cache.get(text)
        if cached is None:
            cached = self._parse_uncached(text)
            self._cache[text] = cached
        return cached

    def _parse_uncached(self, text: str) -> tuple[tuple[int, int] | None, str | None]:
        s = text.strip()
        if not s:
            return None, "empty timestamp"
        shown = f"'{text[:60]}'"
        if _NUMBER.match(s):
            us = epoch_us(s)
            if us is None:
                return None, f"epoch value {shown} is not a time between 1973 and 5138 ({TIMESTAMP_EXPECTED})"
            return (us, us), None
        iso = normalized_iso(s)
        try:
            dt = datetime.fromisoformat(iso)
        except ValueError:
            return None, f"cannot parse timestamp {shown} ({TIMESTAMP_EXPECTED})"
        if dt.tzinfo is None and ("T" not in iso and " " not in iso.strip()):
            # A bare date is that UTC day.
            dt = dt.replace(tzinfo=UTC)
        if dt.tzinfo is None and self.zone is None:
            return None, f"timestamp {shown} has no time zone ({TIMESTAMP_EXPECTED}; {self.no_zone_hint})"
        try:
            return self.instants(dt), None
        except OverflowError:
            return None, f"timestamp {shown} is out of range"

    def instants(self, dt: datetime) -> tuple[int, int]:
        """Both readings of ``dt`` (earlier, later): equal unless it is a naive time in a repeated hour."""
        if dt.tzinfo is not None:
            us = to_us(dt)
            return us, us
        if self.zone is None:
            raise ValueError("a time without a zone and no zone configured")
        first = to_us(dt.replace(tzinfo=self.zone, fold=0))
        second = to_us(dt.replace(tzinfo=self.zone, fold=1))
        return min(first, second), max(first, second)

    def from_file_name(self, name: str) -> int | None:
        """The instant an ISO (``2026-03-01T12-00-30Z``) or epoch (10/13 digits) time in a file name names."""
        m = _NAME_ISO.search(name)
        if m:
            fraction = (m[7] or "0")[:6].ljust(6, "0")
            try:
                dt = datetime(int(m[1]), int(m[2]), int(m[3]), int(m[4]), int(m[5]), int(m[6]), int(fraction))
            except ValueError:
                dt = None
            if dt is not None:
                zone = m[8]
                if zone == "Z":
                    return to_us(dt.replace(tzinfo=UTC))
                if zone:
                    sign = 1 if zone[0] == "+" else -1
                    digits = zone[1:].replace(":", "")
                    offset = timedelta(hours=int(digits[:2]), minutes=int(digits[2:]))
                    return to_us(dt.replace(tzinfo=UTC)) - sign * (offset // _ONE_US)
                if self.zone is None:
                    return None
                return self.instants(dt)[0]
        m = _NAME_EPOCH.search(name)
        if m:
            return epoch_us(m[1])
        return None


# --- A column at once -------------------------------------------------------------------------------------


@dataclass
class Parsed:
    """Parsed values and, row by row, the problem that made a value unusable (NULL when it was fine)."""

    values: pl.Series
    problems: pl.Series


def quoted(s: pl.Expr) -> pl.Expr:
    """A text value in quotes, cut at 60 characters, for problem messages."""
    return pl.lit("'") + s.str.slice(0, 60) + pl.lit("'")


def _epoch_expr(num: pl.Expr) -> pl.Expr:
    """Epoch number (s, ms, us or ns by magnitude) → integer microseconds (NULL beyond the bands)."""
    magnitude = num.abs()
    (first_limit, first_factor), *rest = EPOCH_BANDS
    expr: Any = pl.when(magnitude < first_limit).then(num * first_factor)  # a when/then chain
    for limit, factor in rest[:-1]:
        expr = expr.when(magnitude < limit).then(num * factor)
    return expr.when(magnitude < rest[-1][0]).then(num / 1_000).round(0).cast(pl.Int64, strict=False)


def _epoch_problem(us: pl.Expr, shown: pl.Expr) -> pl.Expr:
    return pl.when(us.is_null() | (us < MIN_EPOCH_US)).then(
        pl.lit("epoch value ")
        + shown
        + pl.lit(f" is not a time between 1973 and 5138 ({TIMESTAMP_EXPECTED})")
    )


def parse_timestamps(series: pl.Series, *, naive_timezone: str | None = None) -> Parsed:
    """Parse a timestamp column of any dtype to UTC microseconds, by the rule of this module.

    Timestamps without a zone are read in ``naive_timezone`` when given, else rejected.
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
        elif getattr(dtype, "time_zone", None) is not None:
            value = raw.dt.convert_time_zone("UTC")
            failed = pl.lit(None, dtype=pl.Utf8)
        elif naive_timezone is not None:
            value = raw.dt.replace_time_zone(
                naive_timezone, ambiguous="earliest", non_existent="null"
            ).dt.convert_time_zone("UTC")
            failed = pl.lit(f"local time does not exist in {naive_timezone}")
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
        us = _epoch_expr(num)
        out = frame.select(
            v=pl.when(us >= MIN_EPOCH_US).then(us).cast(pl.Datetime("us")).dt.replace_time_zone("UTC"),
            p=pl.when(pl.col("raw").is_null())
            .then(pl.lit("empty timestamp"))
            .when(pl.col("raw").cast(pl.Float64).is_nan() | pl.col("raw").cast(pl.Float64).is_infinite())
            .then(pl.lit(f"cannot parse timestamp ({TIMESTAMP_EXPECTED})"))
            .otherwise(_epoch_problem(us, pl.col("raw").cast(pl.Utf8))),
        )
        return Parsed(out["v"].alias(name), out["p"].cast(pl.Utf8))
    if dtype != pl.Utf8:
        out = frame.select(p=pl.lit(f"a {dtype} value is not a timestamp ({TIMESTAMP_EXPECTED})"))
        return Parsed(pl.Series(name, [None] * len(series), dtype=UTC_DATETIME), out["p"])

    return _parse_timestamp_text(series.cast(pl.Utf8).str.strip_chars(), naive_timezone)


def _timestamp_stages(naive_timezone: str | None) -> list:
    """Vectorized parsers of the commonest forms; each returns (value, problem) expressions.

    Whatever none of them settles goes to ``TimestampParser`` (the same rule, one Python call per distinct text).
    """
    text = pl.col("text")
    norm = (
        text.str.replace(r"^(\d{4})/(\d{2})/(\d{2})", "${1}-${2}-${3}")
        .str.replace(r"^(\d{4}-\d{2}-\d{2})[ Tt]", "${1}T")
        .str.replace(r"\s*(?:Z|z|UTC|GMT)$", "+00:00")
        .str.replace(r"\s+([+-]\d{2}:?\d{2})$", "${1}")
    )
    no_problem = pl.lit(None, dtype=pl.Utf8)
    epoch_us = (
        pl.when(text.str.contains(r"^[+-]?\d+$"))
        .then(_epoch_expr(text.cast(pl.Int64, strict=False)))
        .when(text.str.contains(r"^[+-]?(?:\d+\.\d*|\.\d+)(?:[eE][+-]?\d+)?$"))
        .then(_epoch_expr(text.cast(pl.Float64, strict=False)))
    )
    epoch = (
        pl.when(epoch_us >= MIN_EPOCH_US).then(epoch_us).cast(pl.Datetime("us")).dt.replace_time_zone("UTC")
    )
    is_number = text.str.contains(r"^[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?$")
    epoch_problem = pl.when(is_number).then(_epoch_problem(epoch_us, quoted(text)))
    utc_z = text.str.to_datetime("%Y-%m-%dT%H:%M:%S%.fZ", strict=False, time_unit="us").dt.replace_time_zone(
        "UTC"
    )
    zoned = norm.str.to_datetime("%Y-%m-%dT%H:%M:%S%.f%z", strict=False, time_unit="us").dt.convert_time_zone(
        "UTC"
    )
    naive = norm.str.to_datetime("%Y-%m-%dT%H:%M:%S%.f", strict=False, time_unit="us")
    if naive_timezone is not None:
        # A local time that does not exist (clocks going forward) is left to TimestampParser.
        naive_value = naive.dt.replace_time_zone(
            naive_timezone, ambiguous="earliest", non_existent="null"
        ).dt.convert_time_zone("UTC")
        naive_problem = no_problem
    else:
        naive_value = pl.lit(None, dtype=UTC_DATETIME)
        naive_problem = pl.when(naive.is_not_null()).then(
            pl.lit("timestamp ")
            + quoted(text)
            + pl.lit(f" has no time zone ({TIMESTAMP_EXPECTED}; {NO_ZONE_HINT})")
        )
    day = (
        pl.when(text.str.contains(r"^\d{4}-\d{2}-\d{2}$"))
        .then(text.str.to_date("%Y-%m-%d", strict=False))
        .cast(pl.Datetime("us"))
        .dt.replace_time_zone("UTC")
    )
    return [
        (epoch, epoch_problem),
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
        # Rare spellings (basic format, "+02" offsets, one-digit months...) and real garbage.
        parser = TimestampParser(naive_timezone)
        slow = {}
        for t in pending["text"].unique().to_list():
            readings, problem = parser.parse_with_problem(t)
            slow[t] = (None if readings is None else _EPOCH + readings[0] * _ONE_US, problem)
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


def utc_date(ts: pl.Expr) -> pl.Expr:
    """UTC day of a timestamp: 00:00:00 belongs to its own day, 23:59:59.999 to the one before it."""
    return ts.dt.convert_time_zone("UTC").dt.date()


# --- Can a file hold a time within a window? ----------------------------------------------------------------

# Every spelling the rule above reads contains one of these: a date (dashes, slashes or the basic form) or an
# epoch number (9 to 20 digits, maybe a fraction or an exponent). Other numbers that match only widen the range.
# Run by polars (Rust's regex engine): a 25 MB log is scanned in a fraction of the time its rows take to parse.
_TIME_IN_TEXT = r"\d{4}[-/]\d{2}[-/]\d{2}|\d{8}T|\d+\.\d+[eE]\+?\d+|\d{9,20}(?:\.\d+)?"
_DATE_HEAD = re.compile(r"^(\d{4})[-/]?(\d{2})[-/]?(\d{2})")
# A local date is up to 14 h from UTC: a date in the text stands for that day and its neighbours.
_DATE_SLACK = timedelta(days=1)


class WindowDays:
    """The days a window [start_us, end_us) can touch in any zone, to tell a time outside it from its date alone."""

    def __init__(self, start_us: int, end_us: int):
        self.start_us, self.end_us = start_us, end_us
        self.first = (_EPOCH + start_us * _ONE_US - _DATE_SLACK).date()
        self.last = (_EPOCH + end_us * _ONE_US + _DATE_SLACK).date()
        self._heads: dict[str, bool] = {}

    def date_may_touch(self, text: str) -> bool | None:
        """Whether a date at the start of ``text`` can hold a time of the window; None when it starts with none."""
        m = _DATE_HEAD.match(text)
        if not m:
            return None
        try:
            day = date(int(m[1]), int(m[2]), int(m[3]))
        except ValueError:
            return None
        return self.first <= day <= self.last

    def surely_outside(self, text: str) -> bool:
        """True when a timestamp's leading date (``2026/09/15 10:00:00``) puts it outside the window: no parse needed.

        Cached by the first ten characters, so that a log of 1-second samples pays a dictionary look-up a line.
        """
        head = text[:10]
        known = self._heads.get(head)
        if known is None:
            known = self.date_may_touch(head) is False
            self._heads[head] = known
        return known


def may_hold_times_within(text: str, start_us: int, end_us: int) -> bool:
    """False only when ``text`` holds timestamps and none of them can fall in [start_us, end_us).

    Every date and epoch-like number of the text counts as a time (in any zone): a file whose times all lie on
    other days is told apart by one regular-expression scan, without parsing its rows. A text with no time (times
    only in the file name, or in a form this cannot see) may hold any time: True.
    """
    window = WindowDays(start_us, end_us)
    found = (
        pl.Series([text])
        .str.extract_all(_TIME_IN_TEXT)
        .explode(empty_as_null=False)
        .drop_nulls()
        .unique()
        .to_list()
    )
    seen = False
    for candidate in found:
        if candidate[4] in "-/" or candidate.endswith("T"):
            touches = window.date_may_touch(candidate)
            if touches is None:
                continue
            seen = True
            if touches:
                return True
            continue
        us = epoch_us(candidate)
        if us is None:
            continue
        seen = True
        if start_us <= us < end_us:
            return True
    return not seen
