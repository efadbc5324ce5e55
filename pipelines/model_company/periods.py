"""Billing months and hour/day arithmetic on UTC epoch seconds."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

HOUR = 3600
DAY = 86400
_MONTH_RE = re.compile(r"^(\d{4})-(\d{2})$")


@dataclass(frozen=True)
class Month:
    """One billing period: ``label`` like ``2026-09`` and its [start, end) in UTC epoch seconds."""

    label: str
    start: int
    end: int

    @property
    def hours(self) -> int:
        return (self.end - self.start) // HOUR

    @property
    def days(self) -> int:
        return (self.end - self.start) // DAY

    @property
    def first_day(self) -> date:
        return to_datetime(self.start).date()

    @property
    def start_dt(self) -> datetime:
        return to_datetime(self.start)

    @property
    def end_dt(self) -> datetime:
        return to_datetime(self.end)


def parse_month(label: str) -> Month:
    """Parse ``YYYY-MM`` into a :class:`Month`; raises ValueError on anything else."""
    match = _MONTH_RE.match(label)
    if not match:
        raise ValueError(f"month must look like 2026-09, got {label!r}")
    year, month = int(match.group(1)), int(match.group(2))
    if not 1 <= month <= 12:
        raise ValueError(f"month must look like 2026-09, got {label!r}")
    start = datetime(year, month, 1, tzinfo=UTC)
    end = datetime(year + month // 12, month % 12 + 1, 1, tzinfo=UTC)
    return Month(label, int(start.timestamp()), int(end.timestamp()))


def parse_months(labels: tuple[str, ...] | list[str]) -> list[Month]:
    """Parse and check that the months are consecutive and in order (schedules span them as one timeline)."""
    months = [parse_month(label) for label in labels]
    if not months:
        raise ValueError("at least one month is needed")
    for before, after in zip(months, months[1:], strict=False):
        if after.start != before.end:
            raise ValueError(f"months must be consecutive and ascending: {before.label} then {after.label}")
    return months


def to_datetime(epoch_seconds: int) -> datetime:
    """UTC datetime of an epoch second."""
    return datetime.fromtimestamp(int(epoch_seconds), tz=UTC)


def iso_z(epoch_seconds: int) -> str:
    """``2026-09-01T00:00:00Z`` as CUR and FOCUS write timestamps."""
    return to_datetime(epoch_seconds).strftime("%Y-%m-%dT%H:%M:%SZ")


def day_of(epoch_seconds: int) -> date:
    """UTC date of an epoch second."""
    return to_datetime(epoch_seconds).date()


def day_start(d: date) -> int:
    """Epoch second of midnight UTC starting ``d``."""
    return int(datetime(d.year, d.month, d.day, tzinfo=UTC).timestamp())


def days_between(start: int, end: int) -> list[date]:
    """UTC dates from ``start`` (inclusive) to ``end`` (exclusive), both on midnight boundaries."""
    first = day_of(start)
    return [first + timedelta(days=i) for i in range((end - start) // DAY)]
