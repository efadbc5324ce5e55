"""Dagster assets for attribution: cost_attribution, cost_by_category_daily (daily), reconciliation and
rule_coverage (monthly).

SQL lives in sql/<asset>.sql; the days of a run are computed in one pass (single-run backfill), not day by day.
"""

from datetime import timedelta

from dagster import (
    AssetCheckResult,
    AssetCheckSeverity,
    AssetCheckSpec,
    AssetExecutionContext,
    MaterializeResult,
    MetadataValue,
    asset,
)

from pipelines import lake
from pipelines.attribution.compute import (
    UNMATCHED_WARN_SHARE,
    attribute,
    cover,
    reconcile,
    summarize_by_category,
    unmatched_periods,
)
from pipelines.billing.assets import line_items
from pipelines.catalog import table_schema
from pipelines.checks import CENT, check_rows, rows_table
from pipelines.generations import PendingGeneration, months
from pipelines.partitions import DAILY_ASSET, MONTHLY_ASSET, day_range
from pipelines.resources import MlcostResource

UNATTRIBUTED_WARN_SHARE = 0.10


@asset(
    **DAILY_ASSET,
    deps=[line_items],
    group_name="attribution",
    metadata={"dagster/column_schema": table_schema("cost_attribution")},
    check_specs=[
        AssetCheckSpec("every_line_has_one_category", asset="cost_attribution", blocking=True),
        AssetCheckSpec("attributed_equals_source_per_day", asset="cost_attribution", blocking=True),
        # A warning: real bills carry negative usage on corrections (FOCUS ChargeClass Correction); the rows are
        # kept and listed rather than stopping the run.
        AssetCheckSpec("no_negative_usage_quantity", asset="cost_attribution", blocking=False),
        AssetCheckSpec("unattributed_share", asset="cost_attribution", blocking=False),
    ],
)
def cost_attribution(context: AssetExecutionContext, mlcost: MlcostResource):
    """Every dollar of line_items per line and day, with category, workload and rule_id (sql/cost_attribution.sql)."""
    settings = mlcost.settings()
    rules = mlcost.rules()
    start, end = day_range(context)
    con = lake.connect(settings)
    written = attribute(con, settings, rules, start, end)
    lake.register_views(con, settings, ["cost_attribution", "line_items"])
    uncategorized = check_rows(con, "uncategorized_attribution", start, end)
    periods = check_rows(con, "attribution_vs_source", start, end)
    worst = max((abs(r["difference"]) for r in periods), default=0.0)
    negative = check_rows(con, "negative_usage", start, end)
    (share,) = check_rows(con, "unattributed_share", start, end)
    yield MaterializeResult(
        metadata={
            "dagster/row_count": sum(written.values()),
            "days_written": len([d for d, n in written.items() if n]),
            "unattributed_share": float(share["unattributed_share"]),
        },
        check_results=[
            AssetCheckResult(
                check_name="every_line_has_one_category",
                passed=not uncategorized,
                metadata={"rows_without_category": len(uncategorized), "examples": rows_table(uncategorized)},
            ),
            AssetCheckResult(
                check_name="attributed_equals_source_per_day",
                passed=worst < CENT,
                description="Σ attributed effective cost = Σ line_items effective cost per billing period "
                "(over the published days of each period the run touched)",
                metadata={"worst_difference": worst, "periods": rows_table(periods)},
            ),
            AssetCheckResult(
                check_name="no_negative_usage_quantity",
                passed=not negative,
                severity=AssetCheckSeverity.WARN,
                metadata={"negative_usage_lines": len(negative), "examples": rows_table(negative)},
            ),
            AssetCheckResult(
                check_name="unattributed_share",
                passed=share["unattributed_share"] <= UNATTRIBUTED_WARN_SHARE,
                severity=AssetCheckSeverity.WARN,
                metadata={
                    "unattributed_share": float(share["unattributed_share"]),
                    "unattributed_effective_cost": float(share["unattributed_effective_cost"]),
                    "threshold": UNATTRIBUTED_WARN_SHARE,
                },
            ),
        ],
    )


@asset(
    **DAILY_ASSET,
    deps=[cost_attribution],
    group_name="attribution",
    metadata={"dagster/column_schema": table_schema("cost_by_category_daily")},
)
def cost_by_category_daily(context: AssetExecutionContext, mlcost: MlcostResource) -> MaterializeResult:
    """Day × category × workload totals after sharing (sql/cost_by_category_daily.sql)."""
    settings = mlcost.settings()
    start, end = day_range(context)
    con = lake.connect(settings)
    written = summarize_by_category(con, settings, start, end)
    lake.register_views(con, settings, ["cost_by_category_daily"])
    top = con.execute(
        "SELECT category, round(sum(effective_cost), 2) FROM cost_by_category_daily "
        "WHERE usage_date BETWEEN ? AND ? GROUP BY 1 ORDER BY 2 DESC",
        [start, end],
    ).fetchall()
    return MaterializeResult(
        metadata={
            "dagster/row_count": sum(written.values()),
            "by_category": MetadataValue.md(
                "\n".join(
                    ["| category | effective cost |", "|---|---:|"] + [f"| {c} | {v:,.2f} |" for c, v in top]
                )
            ),
        }
    )


@asset(
    **MONTHLY_ASSET,
    # The monthly tables come first: reconciliation publishes the billing period's generation, their files included.
    deps=[cost_attribution, line_items, "rule_coverage"],
    group_name="attribution",
    metadata={"dagster/column_schema": table_schema("reconciliation")},
    check_specs=[AssetCheckSpec("attributed_equals_billed", asset="reconciliation", blocking=True)],
)
def reconciliation(context: AssetExecutionContext, mlcost: MlcostResource):
    """Per billing period: source billed/effective totals, attributed total and the difference (must be 0.00)."""
    settings = mlcost.settings()
    window = context.partition_time_window
    start, end = window.start.date(), (window.end - timedelta(days=1)).date().replace(day=1)
    con = lake.connect(settings)
    # The step that publishes: the periods' layers switch together, only when they reconcile
    # (pipelines/generations.py); until then readers see each period's previous generation whole.
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
                description="attributed effective cost equals the bill's effective cost, to the cent, per period",
                metadata={"worst_difference": worst, "periods": len(rows)},
            )
        ],
    )


@asset(
    **MONTHLY_ASSET,
    deps=[cost_attribution],
    group_name="attribution",
    metadata={"dagster/column_schema": table_schema("rule_coverage")},
    check_specs=[AssetCheckSpec("unmatched_share", asset="rule_coverage", blocking=False)],
)
def rule_coverage(context: AssetExecutionContext, mlcost: MlcostResource):
    """Per billing period: the share of effective cost per rule id, and `other` by service (sql/rule_coverage.sql)."""
    settings = mlcost.settings()
    window = context.partition_time_window
    start, end = window.start.date(), (window.end - timedelta(days=1)).date().replace(day=1)
    con = lake.connect(settings)
    written = cover(con, settings, start, end)
    offending = unmatched_periods(con, settings, start, end)
    top = con.execute(
        "SELECT rule_id, round(sum(effective_cost), 2), round(100 * max(rule_share), 2) FROM rule_coverage "
        "WHERE billing_period BETWEEN ? AND ? GROUP BY 1 ORDER BY 2 DESC LIMIT 20",
        [start, end],
    ).fetchall()
    worst = max((float(r["unmatched_share"]) for r in offending), default=0.0)
    yield MaterializeResult(
        metadata={
            "dagster/row_count": sum(written.values()),
            "by_rule": MetadataValue.md(
                "\n".join(
                    ["| rule | effective cost | largest share of a period (%) |", "|---|---:|---:|"]
                    + [f"| {r} | {v:,.2f} | {s} |" for r, v, s in top]
                )
            ),
        },
        check_results=[
            AssetCheckResult(
                check_name="unmatched_share",
                passed=not offending,
                severity=AssetCheckSeverity.WARN,
                description="effective cost no rule matched (rule unmatched, category other) is at most "
                f"{UNMATCHED_WARN_SHARE:.0%} of each billing period; add rules for the services listed",
                metadata={
                    "threshold": UNMATCHED_WARN_SHARE,
                    "worst_unmatched_share": worst,
                    "periods_over_threshold": len(offending),
                    "top_services": rows_table(offending),
                },
            )
        ],
    )
