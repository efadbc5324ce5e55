"""How recent an asset's data is, as opposed to when it was computed.

Dagster's freshness policy (pipelines/orchestration/operations.py) measures when an asset was last materialized: a run today
over a five-week-old bill is "fresh". Each asset's materialization therefore also carries `data_through` (its
newest usage date, or billing period for the monthly tables) and the billing delivery that date came from, and
each daily asset has a warning check, `data_is_recent`, comparing that date with today minus the bill's normal lag.

The lag: AWS delivers CUR (and FOCUS) exports several times a day, each up to ~24 hours behind usage, and the
nightly run at 06:00 UTC computes up to yesterday. So on day D the newest usage date normally is D−1, and D−2 when
the day's last delivery is late: data older than DAILY_LAG_DAYS days is not the bill's normal lag but a stopped
export, a failed run or a source that no longer delivers. docs/operations.md, "Data through".
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

import duckdb
from dagster import AssetCheckResult, AssetCheckSeverity, AssetCheckSpec

from pipelines.config import Settings
from pipelines.storage import lake

# Days between a usage date and the day it is normally in the lake (see the module's docstring).
DAILY_LAG_DAYS = 2
CHECK_NAME = "data_is_recent"
# Tables computed from the bill: their newest day came with the billing delivery of that day's lines.
_FROM_THE_BILL = {
    "cost_attribution",
    "cost_by_category_daily",
    "gpu_efficiency_daily",
    "gpu_efficiency_by_device_daily",
    "cost_per_prediction_daily",
}
# What stopped arriving when a table's data is old: its own source for the tables read from logs, else the bill.
_ARRIVES = {
    "gpu_samples": "the GPU logs still arrive (MLCOST_GPU_SOURCE)",
    "predictions_daily": "the prediction counts still arrive (MLCOST_PREDICTIONS_SOURCE)",
}


def recent_spec(asset: str) -> AssetCheckSpec:
    """The `data_is_recent` warning check of a daily asset."""
    return AssetCheckSpec(
        CHECK_NAME,
        asset=asset,
        blocking=False,
        description=f"The newest usage date with data in {asset} (data_through) is at most {DAILY_LAG_DAYS} days "
        "before today (UTC): the bill arrives up to ~24 hours after usage and the nightly computes up to "
        "yesterday. A warning. When it warns, the data stopped arriving, not the runs: check that the billing "
        "export still delivers to MLCOST_CUR_SOURCE (and the logs to their sources), the billing_delivery_sensor's "
        "ticks and the last nightly run (docs/operations.md, 'Data through').",
    )


def utc_today() -> date:
    return datetime.now(UTC).date()


def _one(con: duckdb.DuckDBPyConnection, sql: str, params: list) -> Any:
    row = con.execute(sql, params).fetchone()
    return row[0] if row else None


def _deliveries(con: duckdb.DuckDBPyConnection, settings: Settings, sql: str, params: list) -> str | None:
    if not lake.has_data(settings, "line_items"):
        return None
    lake.register_views(con, settings, ["line_items"])
    ids = [r[0] for r in con.execute(sql, params).fetchall() if r[0] is not None]
    return ", ".join(sorted(ids)) or None


def daily_data_through(settings: Settings, table: str) -> tuple[date | None, str | None]:
    """The newest usage date with rows in a daily table, and the billing delivery (or deliveries) of that day."""
    if not lake.has_data(settings, table):
        return None, None
    con = lake.connect(settings)
    try:
        lake.register_views(con, settings, [table])
        newest = _one(con, f'SELECT max(usage_date) FROM "{table}"', [])
        delivery = None
        if newest is not None and table in _FROM_THE_BILL:
            delivery = _deliveries(
                con,
                settings,
                "SELECT DISTINCT delivery_id FROM line_items WHERE billing_period = ? AND usage_date = ?",
                [newest.replace(day=1), newest],
            )
            if delivery is None:
                # A day billed in a later month (a refund dated back): the delivery of any period that has it.
                delivery = _deliveries(
                    con,
                    settings,
                    "SELECT DISTINCT delivery_id FROM line_items WHERE usage_date = ?",
                    [newest],
                )
        return newest, delivery
    finally:
        con.close()


def monthly_data_through(settings: Settings, table: str) -> tuple[date | None, str | None]:
    """The newest billing period with rows in a monthly table, and its delivery in line_items."""
    if not lake.has_data(settings, table):
        return None, None
    con = lake.connect(settings)
    try:
        lake.register_views(con, settings, [table])
        newest = _one(con, f'SELECT max(billing_period) FROM "{table}"', [])
        delivery = None
        if newest is not None:
            delivery = _deliveries(
                con,
                settings,
                "SELECT DISTINCT delivery_id FROM line_items WHERE billing_period = ?",
                [newest],
            )
        return newest, delivery
    finally:
        con.close()


def through_metadata(newest: date | None, delivery: str | None, *, monthly: bool = False) -> dict:
    """Materialization metadata: `data_through` and the delivery it came from ("none" when there is no data)."""
    through = "none" if newest is None else f"{newest:%Y-%m}" if monthly else newest.isoformat()
    return {"data_through": through, "data_through_delivery": delivery or "none"}


def daily_through(settings: Settings, table: str, today: date | None = None) -> tuple[dict, AssetCheckResult]:
    """A daily asset's `data_through` metadata and its `data_is_recent` check result."""
    newest, delivery = daily_data_through(settings, table)
    return through_metadata(newest, delivery), recent_check(table, newest, delivery, today or utc_today())


def recent_check(
    table: str, newest: date | None, delivery: str | None, today: date, lag_days: int = DAILY_LAG_DAYS
) -> AssetCheckResult:
    """Warn when the newest usage date is more than `lag_days` before `today`, naming both dates."""
    due = today - timedelta(days=lag_days)
    metadata = {
        **through_metadata(newest, delivery),
        "today": today.isoformat(),
        "allowed_lag_days": lag_days,
        "due_through": due.isoformat(),
    }
    if newest is None:
        return AssetCheckResult(
            check_name=CHECK_NAME,
            asset_key=table,
            passed=False,
            severity=AssetCheckSeverity.WARN,
            description=f"{table} has no data: nothing to be recent (expected data through {due})",
            metadata=metadata,
        )
    behind = (today - newest).days
    metadata["days_behind"] = behind
    source = f" (delivery {delivery})" if delivery else ""
    if newest >= due:
        text = f"data through {newest}{source}, {behind} day(s) before today {today}: within the {lag_days}-day lag"
    else:
        text = (
            f"data through {newest}{source} is {behind} days before today {today}; the bill normally lags at most "
            f"{lag_days} days (data expected through {due}): check that "
            + _ARRIVES.get(table, "billing deliveries still arrive (MLCOST_CUR_SOURCE)")
        )
    return AssetCheckResult(
        check_name=CHECK_NAME,
        asset_key=table,
        passed=newest >= due,
        severity=AssetCheckSeverity.WARN,
        description=text,
        metadata=metadata,
    )
