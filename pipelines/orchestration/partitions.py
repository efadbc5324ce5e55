"""The two partition schemes: billing periods (months) for ingestion, UTC days for the daily tables.

Where they start follows the data (`partition_start`): the earliest billing period in the lake, in the source's
manifests or in the run at hand, unless MLCOST_PARTITION_START pins it. Nothing here reads the environment: the
asset decorators use the placeholders `billing_periods` and `days`, and `pipelines/orchestration/code_location.py` replaces
them with partitions from `partition_start(settings)` when it builds the definitions (`mlcost run`, `make ui`).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterable
from datetime import date, datetime, timedelta
from typing import Any

from dagster import (
    BackfillPolicy,
    DailyPartitionsDefinition,
    MonthlyPartitionsDefinition,
    PartitionsDefinition,
)

from pipelines.config import Settings
from pipelines.errors import InputError

# Where the partitions start when neither the lake, the source's manifests nor the run name a billing period
# (an empty lake in `make ui`): early enough for any bill, so a sensor-found delivery is never out of range.
EARLY_START = date(2000, 1, 1)

# The run tags of a single-run backfill over a partition range (what Dagster's UI writes for one).
RANGE_START = "dagster/asset_partition_range_start"
RANGE_END = "dagster/asset_partition_range_end"


def billing_periods_from(start: date) -> MonthlyPartitionsDefinition:
    # end_offset=1: the current month is a partition too, because AWS delivers it month-to-date every day.
    return MonthlyPartitionsDefinition(start_date=start.isoformat(), end_offset=1)


def days_from(start: date) -> DailyPartitionsDefinition:
    # Days up to yesterday (UTC): today's bill is not delivered yet.
    return DailyPartitionsDefinition(start_date=start.isoformat(), end_offset=0)


# Placeholders for the asset decorators; code_location.build_definitions replaces them (see the module doc).
billing_periods = billing_periods_from(EARLY_START)
days = days_from(EARLY_START)


def is_daily(partitions_def: PartitionsDefinition | None) -> bool:
    return isinstance(partitions_def, DailyPartitionsDefinition)


def data_periods(settings: Settings, *, scan_source: bool) -> list[date]:
    """Billing periods the data holds: published in the lake, and (scan_source) in the source's manifests."""
    from pipelines.storage import lake

    found = {date.fromisoformat(p) for p in lake.published_partitions(settings, "line_items")}
    if scan_source and settings.cur_source:
        from pipelines.billing.deliveries import scan_manifests

        # Only a hint for where the partitions start: an unreadable source is the sensor's to report.
        with contextlib.suppress(Exception):
            found.update(scan_manifests(settings.cur_source, endpoint_url=settings.s3_endpoint_url))
    return sorted(found)


def partition_start(settings: Settings, *, run_months: Iterable[str] = (), scan_source: bool = False) -> date:
    """The first billing period (and day) of the partitions.

    MLCOST_PARTITION_START when set; a run's month before it is refused with one line naming the setting.
    Unset: the earliest billing period of the run, the lake and (scan_source) the source's manifests, else
    EARLY_START.
    """
    first_run = min((date.fromisoformat(m) for m in run_months), default=None)
    pinned = settings.partition_start
    if pinned is not None:
        if first_run is not None and first_run < pinned:
            raise InputError(
                "MLCOST_PARTITION_START",
                f"{pinned:%Y-%m} is after billing period {first_run:%Y-%m} of this run: unset it (the partitions "
                f"then start at the earliest billing period) or set it to {first_run:%Y-%m} or earlier",
            )
        return pinned
    found = data_periods(settings, scan_source=scan_source)
    if first_run is not None:
        found.append(first_run)
    return min(found).replace(day=1) if found else EARLY_START


def parse_day(key: str) -> date:
    return datetime.strptime(key, "%Y-%m-%d").date()


def month_keys(start: date, end: date) -> list[str]:
    """Billing-period partition keys (YYYY-MM-01) of every month from start's to end's."""
    keys, year, month = [], start.year, start.month
    while (year, month) <= (end.year, end.month):
        keys.append(date(year, month, 1).isoformat())
        year, month = (year + 1, 1) if month == 12 else (year, month + 1)
    return keys


# What every lake asset shares: one run computes all its partitions in one pass (single-run backfill), and the
# `mlcost_lake` pool (limit 1 in dagster.yaml) keeps two steps from writing the lake at once.
LAKE_ASSET: dict[str, Any] = {
    "backfill_policy": BackfillPolicy.single_run(),
    "pool": "mlcost_lake",
    "kinds": {"duckdb", "parquet"},
}
DAILY_ASSET: dict[str, Any] = {"partitions_def": days, **LAKE_ASSET}
MONTHLY_ASSET: dict[str, Any] = {"partitions_def": billing_periods, **LAKE_ASSET}


def day_range(context) -> tuple[date, date]:
    """First and last day (inclusive) of a daily asset's run."""
    window = context.partition_time_window
    return window.start.date(), window.end.date() - timedelta(days=1)
