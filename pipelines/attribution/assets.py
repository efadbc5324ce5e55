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
from pipelines.attribution.rules import CATEGORIES
from pipelines.billing.assets import line_items
from pipelines.catalog import table_schema
from pipelines.checks import CENT, amount, check_rows, judged_days, judged_periods, rows_table, summarize
from pipelines.data_through import daily_through, monthly_data_through, recent_spec, through_metadata
from pipelines.generations import PendingGeneration, months
from pipelines.partition_figures import add_per_partition, grouped_by_day, money, of_run, this
from pipelines.partitions import DAILY_ASSET, MONTHLY_ASSET, day_range
from pipelines.resources import MlcostResource

UNATTRIBUTED_WARN_SHARE = 0.10


@asset(
    **DAILY_ASSET,
    deps=[line_items],
    group_name="attribution",
    metadata={"dagster/column_schema": table_schema("cost_attribution")},
    check_specs=[
        AssetCheckSpec(
            "every_line_has_one_category",
            asset="cost_attribution",
            blocking=True,
            description="Every attributed row has a category, a workload and the rule that decided them "
            "(sql/checks/uncategorized_attribution.sql). Blocking: the day's downstream tables are not computed. "
            "When it fails, the rules file let a line through undecided: run `mlcost rules check`, make the last "
            "rule a catch-all, and rerun the days listed.",
        ),
        AssetCheckSpec(
            "attributed_equals_source_per_day",
            asset="cost_attribution",
            blocking=True,
            description="For each billing period the run touched, Σ effective cost attributed over the period's "
            "published days equals Σ effective cost of its line_items, to the cent "
            "(sql/checks/attribution_vs_source.sql). Blocking. When it fails, some of the period's days were "
            "computed from an older delivery or not at all: rerun daily_tables over the whole period; if the "
            "difference stays, a rule drops or duplicates lines (the periods and differences are listed).",
        ),
        # A warning: real bills carry negative usage on corrections (FOCUS ChargeClass Correction); the rows are
        # kept and listed rather than stopping the run.
        AssetCheckSpec(
            "no_negative_usage_quantity",
            asset="cost_attribution",
            blocking=False,
            description="No usage line of the days judged has a negative quantity (sql/checks/negative_usage.sql; "
            "Savings Plan negation lines excepted). A warning: corrections on real bills carry negative usage; "
            "the lines are kept. When it warns, check that the lines listed are corrections of earlier usage.",
        ),
        AssetCheckSpec(
            "unattributed_share",
            asset="cost_attribution",
            blocking=False,
            description=f"At most {UNATTRIBUTED_WARN_SHARE:.0%} of the non-shared effective cost of the days judged "
            "has workload `unattributed` (sql/checks/unattributed_share.sql). A warning. When it warns, run "
            "sql/examples/unattributed_spend_by_service.sql to see which services lack the workload tag, then tag "
            "the resources or add a mapping rule (docs/attribution.md).",
        ),
        recent_spec("cost_attribution"),
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
    judged = judged_days(start, end)
    grouped = grouped_by_day(
        con,
        "SELECT usage_date, sum(effective_cost) AS effective_cost, sum(billed_cost) AS billed_cost "
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
            of_run("unattributed share", start, end): float(share["unattributed_share"]),
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
                passed=worst < CENT,
                description=summarize(
                    [r for r in periods if abs(r["difference"]) >= CENT],
                    lambda r: (
                        f"{r['billing_period']:%Y-%m} {r['billing_currency']}: attributed "
                        f"{amount(r['attributed_effective_cost'])} vs billed {amount(r['source_effective_cost'])} "
                        f"effective (difference {amount(r['difference'])})"
                    ),
                    "billing period(s) not attributed to the cent",
                )
                if worst >= CENT
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
                passed=share["unattributed_share"] <= UNATTRIBUTED_WARN_SHARE,
                severity=AssetCheckSeverity.WARN,
                description=f"{start} … {end}: {float(share['unattributed_share']):.1%} of the non-shared "
                f"effective cost ({amount(float(share['unattributed_effective_cost']))}) has workload "
                f"unattributed, above {UNATTRIBUTED_WARN_SHARE:.0%}"
                if share["unattributed_share"] > UNATTRIBUTED_WARN_SHARE
                else None,
                metadata={
                    **judged,
                    "unattributed_share": float(share["unattributed_share"]),
                    "unattributed_effective_cost": float(share["unattributed_effective_cost"]),
                    "threshold": UNATTRIBUTED_WARN_SHARE,
                },
            ),
            recent,
        ],
    )


@asset(
    **DAILY_ASSET,
    deps=[cost_attribution],
    group_name="attribution",
    metadata={"dagster/column_schema": table_schema("cost_by_category_daily")},
    check_specs=[recent_spec("cost_by_category_daily")],
)
def cost_by_category_daily(context: AssetExecutionContext, mlcost: MlcostResource) -> MaterializeResult:
    """Day × category × workload totals after sharing (sql/cost_by_category_daily.sql)."""
    settings = mlcost.settings()
    start, end = day_range(context)
    con = lake.connect(settings)
    written = summarize_by_category(con, settings, start, end)
    lake.register_views(con, settings, ["cost_by_category_daily"])
    # One grouped query: each day's figures go on that day's materialization, the run's on every one, labelled.
    grouped = grouped_by_day(
        con,
        "SELECT usage_date, category, sum(effective_cost) AS effective_cost, sum(billed_cost) AS billed_cost "
        "FROM cost_by_category_daily WHERE usage_date BETWEEN ? AND ? GROUP BY ALL ORDER BY ALL",
        [start, end],
    )
    add_per_partition(context, written, _category_figures, grouped)
    top: dict[str, float] = {}
    for rows in grouped.values():
        for r in rows:
            top[r["category"]] = top.get(r["category"], 0.0) + float(r["effective_cost"] or 0)
    through, recent = daily_through(settings, "cost_by_category_daily")
    return MaterializeResult(
        check_results=[recent],
        metadata={
            **through,
            of_run("rows", start, end): sum(written.values()),
            of_run("effective cost", start, end): money(sum(top.values())),
            of_run("by category", start, end): MetadataValue.md(
                "\n".join(
                    ["| category | effective cost |", "|---|---:|"]
                    + [f"| {c} | {v:,.2f} |" for c, v in sorted(top.items(), key=lambda cv: -cv[1])]
                )
            ),
        },
    )


def _category_figures(rows: list[dict]) -> dict:
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


@asset(
    **MONTHLY_ASSET,
    # The monthly tables come first: reconciliation publishes the billing period's generation, their files included.
    deps=[
        cost_attribution,
        line_items,
        "rule_coverage",
        "commitment_utilization",
        "tag_coverage",
        "month_end_forecast",
        "budget_status",
        "recommendations",
    ],
    group_name="attribution",
    metadata={"dagster/column_schema": table_schema("reconciliation")},
    check_specs=[
        AssetCheckSpec(
            "attributed_equals_billed",
            asset="reconciliation",
            blocking=True,
            description="Per billing period and currency, the effective cost attributed equals the bill's "
            "effective cost to the cent, and at least one period was reconciled. Blocking. When it fails, the "
            "period's days were not all recomputed after its latest delivery: rerun daily_tables over the period, "
            "then reconciliation; a difference that stays means a rule drops or duplicates lines.",
        )
    ],
)
def reconciliation(context: AssetExecutionContext, mlcost: MlcostResource):
    """Per billing period: source billed/effective totals, attributed total and the difference (must be 0.00)."""
    settings = mlcost.settings()
    window = context.partition_time_window
    start, end = window.start.date(), (window.end - timedelta(days=1)).date().replace(day=1)
    con = lake.connect(settings)
    judged = judged_periods(start, end)
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


@asset(
    **MONTHLY_ASSET,
    deps=[cost_attribution],
    group_name="attribution",
    metadata={"dagster/column_schema": table_schema("rule_coverage")},
    check_specs=[
        AssetCheckSpec(
            "unmatched_share",
            asset="rule_coverage",
            blocking=False,
            description=f"At most {UNMATCHED_WARN_SHARE:.0%} of each billing period's effective cost is left to "
            "rule `unmatched` (category other) (sql/checks/unmatched_share.sql). A warning. When it warns, add "
            "rules for the services listed, largest first (docs/attribution.md), and rerun the period.",
        )
    ],
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
            **through_metadata(*monthly_data_through(settings, "rule_coverage"), monthly=True),
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
                description=summarize(
                    offending,
                    lambda r: (
                        f"{r['billing_period']:%Y-%m} {r['billing_currency']}: unmatched "
                        f"{float(r['unmatched_share']):.1%} ({amount(r['unmatched_effective_cost'])} of "
                        f"{amount(r['effective_cost'])}), largest services {', '.join(r['top_services'])}"
                    ),
                    f"billing period(s) with more than {UNMATCHED_WARN_SHARE:.0%} of effective cost unmatched",
                )
                if offending
                else "effective cost no rule matched (rule unmatched, category other) is at most "
                f"{UNMATCHED_WARN_SHARE:.0%} of each billing period; add rules for the services listed",
                metadata={
                    **judged_periods(start, end),
                    "threshold": UNMATCHED_WARN_SHARE,
                    "worst_unmatched_share": worst,
                    "periods_over_threshold": len(offending),
                    "top_services": rows_table(offending),
                },
            )
        ],
    )
