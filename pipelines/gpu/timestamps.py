"""Timestamps of GPU logs turned into UTC instants (microseconds since the epoch).

Zoned timestamps keep their zone. Timestamps without a zone (nvidia-smi's ``YYYY/MM/DD HH:MM:SS.mmm``, naive
ISO strings, times in file names) are read in the configured IANA zone, UTC unless told otherwise.
Bare numbers are epoch seconds, or epoch milliseconds when they are too large to be seconds.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pipelines.errors import InputError

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_ONE_US = timedelta(microseconds=1)
_NUMBER = re.compile(r"^[+-]?\d+(?:\.\d*)?(?:[eE][+-]?\d+)?$")
_SLASH_DATE = re.compile(r"^(\d{4})/(\d{1,2})/(\d{1,2})")
# Numbers below this cannot be a log's epoch time (1973): they are a wrong column, not a timestamp.
_MIN_EPOCH_SECONDS = 1e8
_MAX_EPOCH_SECONDS = 1e11

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


def to_us(dt: datetime) -> int:
    """Microseconds since the epoch of an aware datetime."""
    return (dt - _EPOCH) // _ONE_US


class TimestampParser:
    """Parses the timestamp strings of one read, caching each distinct string (logs repeat them per GPU)."""

    def __init__(self, timezone: str = "UTC"):
        self.timezone = timezone
        self.zone = zone_for(timezone)
        self._cache: dict[str, tuple[int, int] | None] = {}

    def parse(self, text: str, *, after: int | None = None) -> int | None:
        """UTC microseconds of ``text``, or None if it is not a timestamp.

        ``after`` is the previous instant of the same log: a local time repeated when clocks go back
        (the ambiguous hour) is read as its second occurrence when the first would go back in time.
        """
        if text not in self._cache:
            self._cache[text] = self._parse_uncached(text)
        cached = self._cache[text]
        if cached is None:
            return None
        first, second = cached
        if after is not None and first < after <= second:
            return second
        return first

    def _parse_uncached(self, text: str) -> tuple[int, int] | None:
        s = text.strip()
        if not s:
            return None
        if _NUMBER.match(s):
            value = float(s)
            if value >= _MAX_EPOCH_SECONDS:
                value /= 1000.0
            if not _MIN_EPOCH_SECONDS <= value < _MAX_EPOCH_SECONDS:
                return None
            us = round(value * 1_000_000)
            return us, us
        m = _SLASH_DATE.match(s)
        if m:
            s = f"{int(m[1]):04d}-{int(m[2]):02d}-{int(m[3]):02d}{s[m.end() :]}"
        try:
            dt = datetime.fromisoformat(s)
        except ValueError:
            return None
        return self.instants(dt)

    def instants(self, dt: datetime) -> tuple[int, int]:
        """Both readings of ``dt`` (earlier, later): equal unless it is a naive time in a repeated hour."""
        if dt.tzinfo is not None:
            us = to_us(dt)
            return us, us
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
                return self.instants(dt)[0]
        m = _NAME_EPOCH.search(name)
        if m:
            parsed = self._parse_uncached(m[1])
            if parsed is not None:
                return parsed[0]
        return None
