"""Dagster assets of the decision layer: cost_anomalies (daily), month_end_forecast and budget_status (monthly)."""

from datetime import date, timedelta

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
from pipelines.attribution.assets import cost_attribution, cost_by_category_daily
from pipelines.catalog import table_schema
from pipelines.checks import check_rows, rows_table
from pipelines.decisions.anomalies import compute_anomalies, describe_anomalies
from pipelines.decisions.budgets import compute_budget_status, describe_crossed
from pipelines.decisions.forecast import compute_forecast
from pipelines.decisions.recommendations import compute_recommendations
from pipelines.gpu.assets import gpu_efficiency_daily
from pipelines.partition_figures import add_per_partition, of_run
from pipelines.partitions import DAILY_ASSET, MONTHLY_ASSET, day_range, month_keys
from pipelines.predictions.assets import cost_per_prediction_daily
from pipelines.resources import MlcostResource


@asset(
    **DAILY_ASSET,
    deps=[cost_attribution, cost_by_category_daily, cost_per_prediction_daily, gpu_efficiency_daily],
    group_name="decisions",
    metadata={"dagster/column_schema": table_schema("cost_anomalies")},
    check_specs=[
        AssetCheckSpec(
            "anomalous_days",
            asset="cost_anomalies",
            blocking=False,
            description="No day of the days judged departs from its own series' trailing 28 days (robust z ≥ 3.5 "
            "and an impact of at least 50 in the billing currency; docs/decisions.md). A warning. When it warns, "
            "read each anomaly's top contributors (rule ids, services, predictions, GPU hours) in cost_anomalies: "
            "an idle GPU left running, a traffic drop or a transfer spike; a planned change needs no action.",
        )
    ],
)
def cost_anomalies(context: AssetExecutionContext, mlcost: MlcostResource) -> MaterializeResult:
    """Days whose cost, cost per prediction or η departs from its trailing 28-day median (robust z, $ floor)."""
    settings = mlcost.settings()
    start, end = day_range(context)
    con = lake.connect(settings)
    written = compute_anomalies(con, settings, start, end)
    rows = []
    if lake.has_data(settings, "cost_anomalies"):
        lake.register_views(con, settings, ["cost_anomalies"])
        rows = check_rows(con, "anomalous_days", start, end)
    description = describe_anomalies(rows)
    if rows:
        context.log.warning(f"cost_anomalies: {description}")
    add_per_partition(context, written)
    return MaterializeResult(
        metadata={of_run("rows", start, end): sum(written.values())},
        check_results=[
            AssetCheckResult(
                check_name="anomalous_days",
                passed=not rows,
                severity=AssetCheckSeverity.WARN,
                description=description,
                metadata={"anomalies": rows_table(rows), "count": len(rows)},
            )
        ],
    )


def run_periods(context: AssetExecutionContext) -> list[date]:
    """The billing periods (first days) of a monthly asset's run."""
    window = context.partition_time_window
    last = (window.end - timedelta(days=1)).date()
    return [date.fromisoformat(key) for key in month_keys(window.start.date(), last)]


@asset(
    **MONTHLY_ASSET,
    deps=[cost_by_category_daily],
    group_name="decisions",
    metadata={"dagster/column_schema": table_schema("month_end_forecast")},
)
def month_end_forecast(context: AssetExecutionContext, mlcost: MlcostResource) -> MaterializeResult:
    """Per billing period, category and workload: month-to-date cost and the month-end forecast with an interval."""
    settings = mlcost.settings()
    periods = run_periods(context)
    con = lake.connect(settings)
    written = compute_forecast(con, settings, periods)
    lake.register_views(con, settings, ["month_end_forecast"])
    totals = con.execute(
        "SELECT billing_period, billing_currency, max(as_of), sum(mtd_cost), sum(forecast_cost) "
        "FROM month_end_forecast WHERE billing_period BETWEEN ? AND ? GROUP BY ALL ORDER BY ALL",
        [periods[0], periods[-1]],
    ).fetchall()
    preview = ["| period | currency | as of | month to date | forecast |", "|---|---|---|---:|---:|"] + [
        f"| {p:%Y-%m} | {c} | {a} | {m:,.2f} | {f:,.2f} |" for p, c, a, m, f in totals
    ]
    return MaterializeResult(
        metadata={"dagster/row_count": sum(written.values()), "preview": MetadataValue.md("\n".join(preview))}
    )


@asset(
    **MONTHLY_ASSET,
    deps=[cost_by_category_daily, month_end_forecast],
    group_name="decisions",
    metadata={"dagster/column_schema": table_schema("budget_status")},
    check_specs=[
        AssetCheckSpec(
            "budget_thresholds_crossed",
            asset="budget_status",
            blocking=False,
            description="No budget of MLCOST_BUDGETS has its actual or forecast month-end cost past one of its "
            "thresholds (docs/decisions.md). A warning. When it warns, the scope, the threshold and the figures "
            "are named: look at cost_anomalies and the scope's workloads, or raise the budget if the spend is "
            "planned.",
        )
    ],
)
def budget_status(context: AssetExecutionContext, mlcost: MlcostResource) -> MaterializeResult:
    """Per billing period and budget of MLCOST_BUDGETS: actual and forecast cost against the amount."""
    settings = mlcost.settings()
    periods = run_periods(context)
    con = lake.connect(settings)
    written = compute_budget_status(con, settings, periods)
    lake.register_views(con, settings, ["budget_status"])
    rows = check_rows(con, "budget_thresholds_crossed", periods[0], periods[-1])
    description = describe_crossed(rows)
    if rows:
        context.log.warning(f"budget_status: {description}")
    return MaterializeResult(
        metadata={
            "dagster/row_count": sum(written.values()),
            "budgets_file": str(settings.budgets_path or "none"),
        },
        check_results=[
            AssetCheckResult(
                check_name="budget_thresholds_crossed",
                passed=not rows,
                severity=AssetCheckSeverity.WARN,
                description=description,
                metadata={"budgets": rows_table(rows), "count": len(rows)},
            )
        ],
    )


@asset(
    **MONTHLY_ASSET,
    deps=[gpu_efficiency_daily],
    group_name="decisions",
    metadata={"dagster/column_schema": table_schema("recommendations")},
)
def recommendations(context: AssetExecutionContext, mlcost: MlcostResource) -> MaterializeResult:
    """Per billing period: idle GPU resources and the monthly saving of stopping or right-sizing them."""
    settings = mlcost.settings()
    periods = run_periods(context)
    con = lake.connect(settings)
    written = compute_recommendations(con, settings, periods)
    lake.register_views(con, settings, ["recommendations"])
    top = con.execute(
        "SELECT billing_period, resource_id, instance_type, eta, monthly_saving, confidence FROM recommendations "
        "WHERE billing_period BETWEEN ? AND ? ORDER BY monthly_saving DESC LIMIT 10",
        [periods[0], periods[-1]],
    ).fetchall()
    preview = [
        "| period | resource | type | η | saving / month | confidence |",
        "|---|---|---|---:|---:|---|",
    ] + [f"| {p:%Y-%m} | {r} | {t} | {e:.3f} | {s:,.2f} | {c} |" for p, r, t, e, s, c in top]
    return MaterializeResult(
        metadata={"dagster/row_count": sum(written.values()), "preview": MetadataValue.md("\n".join(preview))}
    )
