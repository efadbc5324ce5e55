"""The two partition schemes: billing periods (months) for ingestion, UTC days for the daily tables."""

from __future__ import annotations

import os
from datetime import date, datetime, timedelta

from dagster import BackfillPolicy, DailyPartitionsDefinition, MonthlyPartitionsDefinition

# The first month partitions exist for; an older bill needs MLCOST_PARTITION_START=YYYY-MM-01.
PARTITION_START = os.environ.get("MLCOST_PARTITION_START", "2026-01-01")

# end_offset=1: the current month is a partition too, because AWS delivers it month-to-date every day.
billing_periods = MonthlyPartitionsDefinition(start_date=PARTITION_START, end_offset=1)
# Days up to yesterday (UTC): today's bill is not delivered yet.
days = DailyPartitionsDefinition(start_date=PARTITION_START, end_offset=0)


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
LAKE_ASSET = {
    "backfill_policy": BackfillPolicy.single_run(),
    "pool": "mlcost_lake",
    "kinds": {"duckdb", "parquet"},
}
DAILY_ASSET = {"partitions_def": days, **LAKE_ASSET}
MONTHLY_ASSET = {"partitions_def": billing_periods, **LAKE_ASSET}


def day_range(context) -> tuple[date, date]:
    """First and last day (inclusive) of a daily asset's run."""
    window = context.partition_time_window
    return window.start.date(), window.end.date() - timedelta(days=1)
