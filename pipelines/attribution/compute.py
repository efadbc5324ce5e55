"""Run the attribution SQL for a range of days and write cost_attribution, cost_by_category_daily, reconciliation
and rule_coverage."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from datetime import date

import duckdb

from pipelines.attribution.rules import Rules, register
from pipelines.config import Settings
from pipelines.orchestration.checks import check_rows
from pipelines.storage import lake
from pipelines.storage.generations import RECONCILED, PendingGeneration, months
from pipelines.storage.sqlfiles import load_sql


def attribute(
    con: duckdb.DuckDBPyConnection, settings: Settings, rules: Rules, start: date, end: date
) -> dict[str, int]:
    """Publish cost_attribution for the days start..end (in passes of at most ATTRIBUTE_PASS_LINES lines when no
    cost is spread over the billing period). Rows per day."""
    _read_lines_and_rules(con, settings, rules)
    params = {
        "start_date": start,
        "end_date": end,
        "tag_keys": rules.tag_keys,
        "sagemaker_names": rules.sagemaker_names,
        "spreading": any(strategy != "keep" for strategy in rules.strategies.values()),
        **{f"{dimension}_tags": keys for dimension, keys in rules.owners.items()},
    }
    # Spreading weighs every day of the billing period, so each pass would read the whole period: one pass.
    passes = [(start, end)] if params["spreading"] else day_passes(con, start, end)
    query = load_sql("cost_attribution")
    with lake.PartitionWriter(con, settings, "cost_attribution") as writer:
        # Each pass streams its lines from the lake three times (the classes, the workloads, the lines): line_items
        # is clustered by usage day, so each read decodes the row groups of the pass's days (and of lines spanning
        # them), not the month's. Copying a short run's lines into memory first, which this did while line_items was
        # in export order, is slower on the clustered lake: at 10M lines a one-day run took 2.17-2.29 s keeping and
        # 1.35-1.83 s streaming (bench/analysis.md, section 14).
        if len(passes) == 1:
            with joins_as_written(con):
                writer.stage_many(query, params)
        else:
            for first, last in passes:
                # Each pass on a connection of its own: on one connection the 300M month's tenth one-day pass was still
                # running after 11 min, spilling, where that day alone in a new process took 76 s (docs/benchmarks.md
                # section 10): what a pass leaves in DuckDB's memory slows the next ones.
                with contextlib.closing(lake.connect(settings)) as pass_con:
                    _read_lines_and_rules(pass_con, settings, rules)
                    with joins_as_written(pass_con):
                        writer.stage_many(
                            query, {**params, "start_date": first, "end_date": last}, con=pass_con
                        )
        for day in lake.days_between(start, end):
            if day not in writer.staged:
                writer.remove(day)
        return writer.publish()


def _read_lines_and_rules(con: duckdb.DuckDBPyConnection, settings: Settings, rules: Rules) -> None:
    """What the attribution query reads on `con`: the rules' tables, the line_items view, the attribution_lines macro."""
    register(con, rules)
    lake.register_views(con, settings, ["line_items"])
    con.execute(load_sql("staging/attribution_lines"))


# The most lines one pass of the attribution query handles. In one pass over a 300M-line month DuckDB's spill
# grew past the 40 GB the disk had left within four minutes (docs/benchmarks.md, section 9); line_items is
# clustered by usage day, so a pass over a few days reads those days' row groups only. A 10M-line month or
# smaller is one pass, as before; a day of a 300M-line month (9.7M lines) is a pass of its own, the size
# measured (56 s, peak 4.5 GB).
ATTRIBUTE_PASS_LINES = 10_000_000


@contextlib.contextmanager
def joins_as_written(con: duckdb.DuckDBPyConnection) -> Iterator[None]:
    """Run the attribution query with its joins in the order written: the lines probe, the classes and the
    workloads are built.

    DuckDB estimates the distinct classes and workloads as many as line_items' rows (120M-300M for a 300M-line
    month; there are 90 and 6), so it built its hash table on the pass's lines, every column of 9.7M lines
    of a day: a one-day pass ran out of memory (5.4 GB resident, DuckDB's 2 GB full) with 2 threads and with 1.
    As written, the same day takes 56 s (docs/benchmarks.md, section 10).
    """
    con.execute("SET disabled_optimizers = 'join_order,build_side_probe_side'")
    try:
        yield
    finally:
        con.execute("RESET disabled_optimizers")


def day_passes(con: duckdb.DuckDBPyConnection, start: date, end: date) -> list[tuple[date, date]]:
    """start..end cut into runs of consecutive days of at most ATTRIBUTE_PASS_LINES lines of line_items each
    (a day over the limit is a pass of its own). Counting reads only the usage day column."""
    per_day = dict(
        con.execute(
            "SELECT usage_date, count(*) FROM line_items WHERE usage_date BETWEEN ? AND ? GROUP BY ALL",
            [start, end],
        ).fetchall()
    )
    return lake.cut_days(per_day, start, end, ATTRIBUTE_PASS_LINES)


def summarize_by_category(con: duckdb.DuckDBPyConnection, settings: Settings, start: date, end: date) -> dict:
    """Publish cost_by_category_daily for start..end from the published cost_attribution."""
    lake.register_views(con, settings, ["cost_attribution"])
    params = {"start_date": start, "end_date": end}
    return lake.publish_days(
        con, settings, "cost_by_category_daily", load_sql("cost_by_category_daily"), params, start, end
    )


def reconcile(
    con: duckdb.DuckDBPyConnection,
    settings: Settings,
    start_period: date,
    end_period: date,
    pending: PendingGeneration | None = None,
) -> list[dict]:
    """Write reconciliation rows for the billing periods start..end to the working lake; return them as dicts.

    The rows are computed from the hard links of a generation (`pending`; without one, a generation is staged
    here and discarded) and each stores that generation's name, so a row describes exactly the line_items and
    cost_attribution files it read. The reconciliation asset publishes `pending` when the rows reconcile.
    """
    with contextlib.ExitStack() as stack:
        if pending is None:
            periods = months(start_period, end_period)
            pending = stack.enter_context(PendingGeneration(settings, periods))
        pending.register_inputs(con)
        params = {"start_period": start_period, "end_period": end_period}
        with lake.PartitionWriter(con, settings, "reconciliation") as writer:
            writer.stage_many(load_sql("reconciliation"), params)
            writer.publish()
        for value in sorted(writer.staged):
            path = lake.partition_path(settings, "reconciliation", value)
            pending.adopt("reconciliation", value, path, writer.checksums[value])
        cur = con.execute(load_sql("reconciliation"), params)
        names = [d[0] for d in cur.description]
        rows = [dict(zip(names, row, strict=True)) for row in cur.fetchall()]
    # Later steps on this connection read the working lake again.
    lake.register_views(con, settings, [t for t in RECONCILED if lake.has_data(settings, t)])
    return rows


# The `unmatched_share` check warns above this share of a billing period's effective cost (docs/attribution.md).
UNMATCHED_WARN_SHARE = 0.05
UNMATCHED_TOP_SERVICES = 5


def cover(
    con: duckdb.DuckDBPyConnection, settings: Settings, start_period: date, end_period: date
) -> dict[str, int]:
    """Publish rule_coverage for the billing periods start..end (first days of months); rows per period."""
    lake.register_views(con, settings, ["cost_attribution"])
    params = {"start_period": start_period, "end_period": end_period}
    with lake.PartitionWriter(con, settings, "rule_coverage") as writer:
        written = writer.stage_many(load_sql("rule_coverage"), params)
        writer.publish()
    return written


def unmatched_periods(
    con: duckdb.DuckDBPyConnection,
    settings: Settings,
    start_period: date,
    end_period: date,
    threshold: float = UNMATCHED_WARN_SHARE,
) -> list[dict]:
    """Billing periods whose `unmatched` share is above `threshold`, with their top services (sql/checks/)."""
    lake.register_views(con, settings, ["rule_coverage"])
    return check_rows(
        con,
        "rule_coverage",
        "unmatched_share",
        start_period,
        end_period,
        threshold=threshold,
        top=UNMATCHED_TOP_SERVICES,
    )
