"""Publish recommendations (sql/recommendations.sql): idle GPU resources and the monthly saving of acting on them.

WINDOW_DAYS = 7: a whole week, so a resource idle only on weekends is judged on its week, not its weekend.
ETA_THRESHOLD = 0.3: below 30 % active, at least two thirds of the GPU cost buys idle time; a smaller instance or
sharing pays off (docs/recommendations.md).
MIN_SAVING = 50: a recommendation worth less than 50 a month (in the billing currency) is not worth a ticket.
"""

from __future__ import annotations

from datetime import date

import duckdb

from pipelines.config import Settings
from pipelines.storage import lake
from pipelines.storage.sqlfiles import load_sql

WINDOW_DAYS = 7
ETA_THRESHOLD = 0.3
MIN_SAVING = 50.0


def parameters(period: date) -> dict:
    return {
        "billing_period": period,
        "window_days": WINDOW_DAYS,
        "eta_threshold": ETA_THRESHOLD,
        "min_saving": MIN_SAVING,
    }


def compute_recommendations(
    con: duckdb.DuckDBPyConnection, settings: Settings, periods: list[date]
) -> dict[str, int]:
    """Publish recommendations for each billing period (empty without GPU data or idle resources)."""
    lake.register_view_or_empty(con, settings, "gpu_efficiency_daily")
    with lake.PartitionWriter(con, settings, "recommendations") as writer:
        for period in periods:
            writer.stage(period.isoformat(), load_sql("recommendations"), parameters(period))
        return writer.publish()
