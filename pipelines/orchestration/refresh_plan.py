"""What to recompute, decided from the clock and the published state: the pure half of the schedule.

Nothing here reads a file, S3 or the Dagster instance; `pipelines/orchestration/operations.py` gathers those facts and hands
them in, so every decision can be tested with plain values (docs/operations.md explains the rules).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

# AWS refreshes a CUR up to three times a day; by 06:00 UTC the previous UTC day is usually in the export.
NIGHTLY_HOUR_UTC = 6
NIGHTLY_CRON = f"0 {NIGHTLY_HOUR_UTC} * * *"
# AWS keeps restating the previous month for a few days after it closes (final invoice, credits, refunds).
PREVIOUS_PERIOD_GRACE_DAYS = 5


@dataclass(frozen=True)
class RefreshPlan:
    """Billing periods to ingest, then the day ranges to recompute (one `daily_tables` run per range)."""

    billing_periods: tuple[str, ...] = ()
    day_ranges: tuple[tuple[str, str], ...] = ()

    @property
    def days(self) -> list[str]:
        return [d.isoformat() for start, end in self.day_ranges for d in _dates(start, end)]


def utc_date(now: datetime) -> date:
    """The UTC calendar date of `now` (a naive datetime is taken to be UTC already)."""
    return now.astimezone(UTC).date() if now.tzinfo else now.date()


def yesterday(now: datetime) -> date:
    """The last complete UTC day at `now`: the newest day partition there is."""
    return utc_date(now) - timedelta(days=1)


def month_start(day: date) -> date:
    return day.replace(day=1)


def month_end(day: date) -> date:
    return (day.replace(day=28) + timedelta(days=4)).replace(day=1) - timedelta(days=1)


def _dates(start: date | str, end: date | str) -> list[date]:
    first = date.fromisoformat(start) if isinstance(start, str) else start
    last = date.fromisoformat(end) if isinstance(end, str) else end
    return [first + timedelta(days=i) for i in range((last - first).days + 1)]


def billing_periods_due(now: datetime, *, first_day: date) -> list[str]:
    """The periods the nightly ingests: the current one, and the previous one in a month's first 5 days."""
    today = utc_date(now)
    current = month_start(today)
    due = [current]
    if today.day <= PREVIOUS_PERIOD_GRACE_DAYS:
        due.insert(0, month_start(current - timedelta(days=1)))
    return [p.isoformat() for p in due if p >= month_start(first_day)]


def period_days(period: str, *, first_day: date, through: date) -> list[str]:
    """Days of a billing period (YYYY-MM-01) that are day partitions up to `through` (yesterday)."""
    start = max(date.fromisoformat(period), first_day)
    end = min(month_end(date.fromisoformat(period)), through)
    return [d.isoformat() for d in _dates(start, end)] if start <= end else []


def stale_days(
    line_items_written: Mapping[str, float],
    days_computed: Mapping[str, float],
    *,
    first_day: date,
    through: date,
) -> list[str]:
    """Days whose billing period's line_items were written after the day's cost_attribution was last computed.

    `line_items_written`: billing period -> when its published line_items file was written (epoch seconds);
    `days_computed`: day -> when cost_attribution last materialized it. A day never computed is stale too.
    """
    stale: list[str] = []
    for period, written in sorted(line_items_written.items()):
        for day in period_days(period, first_day=first_day, through=through):
            computed = days_computed.get(day)
            if computed is None or computed < written:
                stale.append(day)
    return stale


def contiguous_ranges(days: Iterable[str]) -> tuple[tuple[str, str], ...]:
    """Sorted (first, last) ranges of consecutive days: each becomes ONE single-run daily_tables backfill."""
    ranges: list[list[date]] = []
    for day in sorted({date.fromisoformat(d) for d in days}):
        if ranges and day == ranges[-1][1] + timedelta(days=1):
            ranges[-1][1] = day
        else:
            ranges.append([day, day])
    return tuple((a.isoformat(), b.isoformat()) for a, b in ranges)


def nightly_plan(
    now: datetime,
    line_items_written: Mapping[str, float],
    days_computed: Mapping[str, float],
    *,
    first_day: date,
    unpublished: Iterable[str] = (),
) -> RefreshPlan:
    """Everything the nightly run brings up to date at `now`.

    Ingest the due billing periods; then recompute their days up to yesterday (the ingestion is about to
    replace them), yesterday itself, every day a restatement of another period has made stale, and the days of
    every period whose working files are not its published generation (`unpublished`: a run stopped before its
    reconciliation step, a day rerun from the UI); the chain then reconciles, and so publishes, those months.
    """
    through = yesterday(now)
    periods = billing_periods_due(now, first_day=first_day)
    days = {d for p in periods for d in period_days(p, first_day=first_day, through=through)}
    if through >= first_day:
        days.add(through.isoformat())
    days.update(stale_days(line_items_written, days_computed, first_day=first_day, through=through))
    days.update(d for p in unpublished for d in period_days(p, first_day=first_day, through=through))
    return RefreshPlan(billing_periods=tuple(periods), day_ranges=contiguous_ranges(days))


def delivery_plan(period: str, now: datetime, *, first_day: date) -> RefreshPlan:
    """After a new delivery of `period`: ingest it, then recompute its days up to yesterday as one run."""
    days = period_days(period, first_day=first_day, through=yesterday(now))
    return RefreshPlan(billing_periods=(period,), day_ranges=contiguous_ranges(days))


@dataclass(frozen=True)
class DeliveryDecision:
    """What the delivery sensor does on a tick: the periods to ingest and the cursor to keep."""

    to_ingest: tuple[str, ...]
    cursor: dict[str, str]
    out_of_range: tuple[str, ...] = ()


def changed_deliveries(
    scanned: Mapping[date, str],
    seen: Mapping[str, str],
    published: Mapping[str, str],
    *,
    first_period: date,
    last_period: date,
) -> DeliveryDecision:
    """Billing periods whose current manifest fingerprint is new since the last tick and not yet published.

    `scanned`: period -> fingerprint from the manifests now; `seen`: the cursor of the previous tick;
    `published`: period -> fingerprint of the delivery in the lake (so a first tick does not re-ingest what
    `mlcost run` already published). Periods outside the partitions are reported, never requested.
    """
    to_ingest, out_of_range = [], []
    cursor = {}
    for period, fingerprint in sorted(scanned.items()):
        key = period.isoformat()
        cursor[key] = fingerprint
        if fingerprint in (seen.get(key), published.get(key)):
            continue
        if month_start(first_period) <= period <= last_period:
            to_ingest.append(key)
        else:
            out_of_range.append(key)
    return DeliveryDecision(tuple(to_ingest), cursor, tuple(out_of_range))


def encode_cursor(fingerprints: Mapping[str, str]) -> str:
    """The delivery sensor's cursor: JSON of billing period -> manifest fingerprint."""
    return json.dumps({"version": 1, "fingerprints": dict(sorted(fingerprints.items()))}, sort_keys=True)


def decode_cursor(text: str | None) -> dict[str, str]:
    """The fingerprints in a cursor; an absent or unreadable cursor (edited by hand) counts as none seen."""
    if not text:
        return {}
    try:
        doc = json.loads(text)
    except json.JSONDecodeError:
        return {}
    fingerprints = doc.get("fingerprints") if isinstance(doc, dict) else None
    if not isinstance(fingerprints, dict):
        return {}
    return {str(k): str(v) for k, v in fingerprints.items()}


def encode_ranges(ranges: Iterable[tuple[str, str]]) -> str:
    """Day ranges as a run tag value: `2026-03-01..2026-03-31,2026-05-02..2026-05-02`."""
    return ",".join(f"{a}..{b}" for a, b in ranges)


def decode_ranges(text: str | None) -> tuple[tuple[str, str], ...]:
    """The ranges of `encode_ranges`; each key must be a date, so an edited tag cannot launch nonsense."""
    out = []
    for part in (text or "").split(","):
        if not part.strip():
            continue
        start, sep, end = part.strip().partition("..")
        first, last = date.fromisoformat(start), date.fromisoformat(end if sep else start)
        if last < first:
            raise ValueError(f"day range {part!r} ends before it starts")
        out.append((first.isoformat(), last.isoformat()))
    return tuple(out)


def months_of(day_range: tuple[str, str]) -> tuple[str, str]:
    """The first and last billing period a day range touches (for the reconciliation run after it)."""
    return (
        month_start(date.fromisoformat(day_range[0])).isoformat(),
        month_start(date.fromisoformat(day_range[1])).isoformat(),
    )
