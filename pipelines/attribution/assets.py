"""Dagster assets for attribution: cost_attribution, cost_by_category_daily (daily), reconciliation and
rule_coverage (monthly).

SQL lives in sql/<asset>.sql; the days of a run are computed in one pass (single-run backfill), not day by day.
"""

from datetime import date, timedelta

import duckdb
from dagster import (
    AssetCheckResult,
    AssetCheckSeverity,
    AssetExecutionContext,
    MaterializeResult,
    MetadataValue,
)

from pipelines.attribution.compute import (
    UNMATCHED_TOP_SERVICES,
    UNMATCHED_WARN_SHARE,
    attribute,
    cover,
    reconcile,
    summarize_by_category,
)
from pipelines.attribution.rules import CATEGORIES, load_rules
from pipelines.config import Settings
from pipelines.orchestration.checks import (
    CENT,
    amount,
    check_rows,
    judged_days,
    judged_periods,
    rows_table,
    summarize,
)
from pipelines.orchestration.data_through import daily_through, monthly_data_through, through_metadata
from pipelines.orchestration.lake_assets import CheckWords, lake_asset, lake_asset_body
from pipelines.orchestration.partition_figures import add_per_partition, grouped_by_day, money, of_run, this
from pipelines.orchestration.partitions import day_range
from pipelines.orchestration.resources import MlcostResource
from pipelines.storage import lake
from pipelines.storage.generations import PendingGeneration, months

UNATTRIBUTED_WARN_SHARE = 0.10


@lake_asset_body("cost_attribution")
def cost_attribution(context: AssetExecutionContext, mlcost: MlcostResource):
    """Every dollar of line_items per line and day, with category, workload and rule_id (sql/cost_attribution.sql)."""
    settings = mlcost.settings()
    rules = load_rules(settings.rules_path)
    start, end = day_range(context)
    con = lake.connect(settings)
    written = attribute(con, settings, rules, start, end)
    lake.register_views(con, settings, ["cost_attribution", "line_items"])
    uncategorized = check_rows(con, "cost_attribution", "every_line_has_one_category", start, end)
    periods = check_rows(con, "cost_attribution", "attributed_equals_source_per_day", start, end, cent=CENT)
    worst = max((abs(r["difference"]) for r in periods), default=0.0)  # 0.0: every period to the cent
    negative = check_rows(con, "cost_attribution", "no_negative_usage_quantity", start, end)
    above = check_rows(
        con, "cost_attribution", "unattributed_share", start, end, max_share=UNATTRIBUTED_WARN_SHARE
    )
    (share,) = check_rows(con, "cost_attribution", "unattributed_share", start, end, max_share=-1)
    judged = judged_days(start, end)
    grouped = grouped_by_day(
        con,
        "SELECT usage_date, fsum(effective_cost) AS effective_cost, fsum(billed_cost) AS billed_cost "
        "FROM cost_attribution WHERE usage_date BETWEEN ? AND ? GROUP BY ALL",
        [start, end],
    )
    add_per_partition(
        context,
        written,
        lambda rows: {
            this("effective cost"): money(sum(float(r["effective_cost"] or 0) for r in rows)),
            this("billed cost"): money(sum(float(r["billed_cost"] or 0) for r in rows)),
        },
        grouped,
    )
    through, recent = daily_through(settings, "cost_attribution")
    yield MaterializeResult(
        metadata={
            **through,
            of_run("rows", start, end): sum(written.values()),
            of_run("days written", start, end): len([d for d, n in written.items() if n]),
            of_run("unattributed share", start, end): share["unattributed_share"],
        },
        check_results=[
            AssetCheckResult(
                check_name="every_line_has_one_category",
                passed=not uncategorized,
                description=summarize(
                    uncategorized,
                    lambda r: (
                        f"{r['usage_date']} {r['service_code']} {r['usage_type']} {r['resource_id'] or ''} "
                        f"effective {amount(r['effective_cost'])}"
                    ),
                    "row(s) without a category, workload or rule",
                )
                if uncategorized
                else None,
                metadata={
                    **judged,
                    "rows_without_category": len(uncategorized),
                    "examples": rows_table(uncategorized),
                },
            ),
            AssetCheckResult(
                check_name="attributed_equals_source_per_day",
                passed=not periods,
                description=summarize(
                    periods,
                    lambda r: (
                        f"{r['billing_period']:%Y-%m} {r['billing_currency']}: attributed "
                        f"{amount(r['attributed_effective_cost'])} vs billed {amount(r['source_effective_cost'])} "
                        f"effective (difference {amount(r['difference'])})"
                    ),
                    "billing period(s) not attributed to the cent",
                )
                if periods
                else "Σ attributed effective cost = Σ line_items effective cost per billing period "
                "(over the published days of each period the run touched)",
                metadata={**judged, "worst_difference": worst, "periods": rows_table(periods)},
            ),
            AssetCheckResult(
                check_name="no_negative_usage_quantity",
                passed=not negative,
                severity=AssetCheckSeverity.WARN,
                description=summarize(
                    negative,
                    lambda r: (
                        f"{r['source_file']}"
                        + (f", line {r['source_row']}" if r["source_row"] is not None else "")
                        + f": {r['usage_date']} {r['usage_type']} {r['resource_id'] or ''} quantity "
                        f"{r['usage_quantity']:,.4f}".replace("-", "−")
                    ),
                    "usage line(s) with a negative quantity",
                )
                if negative
                else None,
                metadata={**judged, "negative_usage_lines": len(negative), "examples": rows_table(negative)},
            ),
            AssetCheckResult(
                check_name="unattributed_share",
                passed=not above,
                severity=AssetCheckSeverity.WARN,
                description=f"{start} … {end}: {float(share['unattributed_share']):.1%} of the non-shared "
                f"effective cost ({amount(float(share['unattributed_effective_cost']))}) has workload "
                f"unattributed, above {UNATTRIBUTED_WARN_SHARE:.0%}"
                if above
                else None,
                metadata={
                    **judged,
                    "unattributed_share": share["unattributed_share"],
                    "unattributed_effective_cost": float(share["unattributed_effective_cost"]),
                    "threshold": UNATTRIBUTED_WARN_SHARE,
                },
            ),
            recent,
        ],
    )


def category_figures(con: duckdb.DuckDBPyConnection, settings: Settings, start: date, end: date) -> dict:
    """Effective cost per category over the run's days."""
    top = con.execute(
        "SELECT category, round(fsum(effective_cost), 2) FROM cost_by_category_daily "
        "WHERE usage_date BETWEEN ? AND ? GROUP BY 1 ORDER BY 2 DESC",
        [start, end],
    ).fetchall()
    return {
        "effective cost": round(sum(float(v or 0) for _, v in top), 2),
        "by category": MetadataValue.md(
            "\n".join(
                ["| category | effective cost |", "|---|---:|"] + [f"| {c} | {v:,.2f} |" for c, v in top]
            )
        ),
    }


def one_day_by_category(rows: list[dict]) -> dict:
    """One day's effective and billed cost, in total and per category (0.00 for a category without cost)."""
    figures = {
        this("effective cost"): money(sum(float(r["effective_cost"] or 0) for r in rows)),
        this("billed cost"): money(sum(float(r["billed_cost"] or 0) for r in rows)),
    }
    for category in CATEGORIES:
        figures[this(f"{category} effective cost")] = money(
            sum(float(r["effective_cost"] or 0) for r in rows if r["category"] == category)
        )
    return figures


cost_by_category_daily = lake_asset(
    "cost_by_category_daily",
    compute=summarize_by_category,
    figures=category_figures,
    day_figures=(
        "SELECT usage_date, category, fsum(effective_cost) AS effective_cost, fsum(billed_cost) AS billed_cost "
        "FROM cost_by_category_daily WHERE usage_date BETWEEN ? AND ? GROUP BY ALL ORDER BY ALL",
        one_day_by_category,
    ),
)


@lake_asset_body("reconciliation")
def reconciliation(context: AssetExecutionContext, mlcost: MlcostResource):
    """Per billing period: source billed/effective totals, attributed total and the difference (must be 0.00)."""
    settings = mlcost.settings()
    window = context.partition_time_window
    start, end = window.start.date(), (window.end - timedelta(days=1)).date().replace(day=1)
    con = lake.connect(settings)
    judged = judged_periods(start, end)
    # The step that publishes: the periods' layers switch together, only when they reconcile
    # (pipelines/storage/generations.py); until then readers see each period's previous generation whole.
    with PendingGeneration(settings, months(start, end)) as pending:
        rows = reconcile(con, settings, start, end, pending=pending)
        worst = max((abs(r["difference"]) for r in rows), default=0.0)
        published = pending.publish() if rows and worst < CENT else []
    if not published:
        context.log.warning("nothing published: readers keep each billing period's previous generation")
    table = [
        "| period | currency | source effective | attributed | difference |",
        "|---|---|---:|---:|---:|",
    ] + [
        f"| {r['billing_period']} | {r['billing_currency']} | {r['source_effective_cost']:,.2f} "
        f"| {r['attributed_effective_cost']:,.2f} | {r['difference']:,.4f} |"
        for r in rows
    ]
    yield MaterializeResult(
        metadata={
            **through_metadata(*monthly_data_through(settings, "reconciliation"), monthly=True),
            "dagster/row_count": len(rows),
            "difference": worst,
            "preview": MetadataValue.md("\n".join(table)),
            "published_periods": ", ".join(published) or "none",
            "generations": ", ".join(sorted({f"{r['billing_period']}: {r['generation']}" for r in rows})),
        },
        check_results=[
            AssetCheckResult(
                check_name="attributed_equals_billed",
                passed=bool(rows) and worst < CENT,
                description=(
                    summarize(
                        [r for r in rows if abs(r["difference"]) >= CENT],
                        lambda r: (
                            f"{r['billing_period']:%Y-%m} {r['billing_currency']}: attributed "
                            f"{amount(r['attributed_effective_cost'])} vs billed {amount(r['source_effective_cost'])} "
                            f"effective (difference {amount(r['difference'])})"
                        ),
                        "billing period(s) not reconciled to the cent",
                    )
                    if worst >= CENT
                    else "attributed effective cost equals the bill's effective cost, to the cent, per period"
                )
                if rows
                else f"no billing period with lines to reconcile in {judged['billing_periods_judged']}",
                metadata={**judged, "worst_difference": worst, "periods": len(rows)},
            )
        ],
    )


def rule_figures(con: duckdb.DuckDBPyConnection, settings: Settings, start: date, end: date) -> dict:
    """Effective cost per rule over the run's periods, with its largest share of a period."""
    top = con.execute(
        "SELECT rule_id, round(fsum(effective_cost), 2), round(100 * max(rule_share), 2) FROM rule_coverage "
        "WHERE billing_period BETWEEN ? AND ? GROUP BY 1 ORDER BY 2 DESC LIMIT 20",
        [start, end],
    ).fetchall()
    return {
        "by_rule": MetadataValue.md(
            "\n".join(
                ["| rule | effective cost | largest share of a period (%) |", "|---|---:|---:|"]
                + [f"| {r} | {v:,.2f} | {s} |" for r, v, s in top]
            )
        )
    }


rule_coverage = lake_asset(
    "rule_coverage",
    compute=cover,
    figures=rule_figures,
    checks={
        "unmatched_share": CheckWords(
            line=lambda r: (
                f"{r['billing_period']:%Y-%m} {r['billing_currency']}: unmatched "
                f"{float(r['unmatched_share']):.1%} ({amount(r['unmatched_effective_cost'])} of "
                f"{amount(r['effective_cost'])}), largest services {', '.join(r['top_services'])}"
            ),
            what=f"billing period(s) with more than {UNMATCHED_WARN_SHARE:.0%} of effective cost unmatched",
            passed="effective cost no rule matched (rule unmatched, category other) is at most "
            f"{UNMATCHED_WARN_SHARE:.0%} of each billing period; add rules for the services listed",
            params=lambda settings: {"threshold": UNMATCHED_WARN_SHARE, "top": UNMATCHED_TOP_SERVICES},
            rows_key="top_services",
            figures=lambda rows: {
                "worst_unmatched_share": max((float(r["unmatched_share"]) for r in rows), default=0.0),
                "periods_over_threshold": len(rows),
            },
        )
    },
)
