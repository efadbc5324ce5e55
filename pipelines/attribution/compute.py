"""Run the attribution SQL for a range of days and publish cost_attribution, cost_by_category_daily, reconciliation."""

from __future__ import annotations

from datetime import date

import duckdb

from pipelines import lake
from pipelines.attribution.rules import Rules, register
from pipelines.config import Settings
from pipelines.sqlfiles import load_sql


def attribute(
    con: duckdb.DuckDBPyConnection, settings: Settings, rules: Rules, start: date, end: date
) -> dict[str, int]:
    """Publish cost_attribution for the days start..end (one pass over their billing periods). Rows per day."""
    register(con, rules)
    lake.register_views(con, settings, ["line_items"])
    params = {
        "start_date": start,
        "end_date": end,
        "tag_keys": rules.tag_keys,
        "sagemaker_names": rules.sagemaker_names,
        "spreading": any(strategy != "keep" for strategy in rules.strategies.values()),
    }
    return lake.publish_days(
        con, settings, "cost_attribution", load_sql("cost_attribution"), params, start, end
    )


def summarize_by_category(con: duckdb.DuckDBPyConnection, settings: Settings, start: date, end: date) -> dict:
    """Publish cost_by_category_daily for start..end from the published cost_attribution."""
    lake.register_views(con, settings, ["cost_attribution"])
    params = {"start_date": start, "end_date": end}
    return lake.publish_days(
        con, settings, "cost_by_category_daily", load_sql("cost_by_category_daily"), params, start, end
    )


def reconcile(
    con: duckdb.DuckDBPyConnection, settings: Settings, start_period: date, end_period: date
) -> list[dict]:
    """Publish reconciliation rows for the billing periods start..end; return them as dicts."""
    lake.register_views(con, settings, ["line_items", "cost_attribution"])
    params = {"start_period": start_period, "end_period": end_period}
    with lake.PartitionWriter(con, settings, "reconciliation") as writer:
        writer.stage_many(load_sql("reconciliation"), params)
        writer.publish()
    cur = con.execute(load_sql("reconciliation"), params)
    names = [d[0] for d in cur.description]
    return [dict(zip(names, row, strict=True)) for row in cur.fetchall()]
