"""Dagster assets for cost per prediction: predictions_daily and cost_per_prediction_daily."""

from dagster import (
    AssetCheckResult,
    AssetCheckSeverity,
    AssetExecutionContext,
    MaterializeResult,
    MetadataValue,
)

from pipelines.orchestration.checks import amount, check_rows, judged_days, rows_table, summarize
from pipelines.orchestration.data_through import daily_through
from pipelines.orchestration.lake_assets import lake_asset_body
from pipelines.orchestration.partitions import day_range
from pipelines.orchestration.resources import MlcostResource
from pipelines.predictions.cost import (
    compute_cost_per_prediction,
    describe_unusable,
    publish_predictions,
    read_source,
    unusable_files,
)
from pipelines.storage import lake


@lake_asset_body("predictions_daily")
def predictions_daily(context: AssetExecutionContext, mlcost: MlcostResource) -> MaterializeResult:
    """Successful predictions per day, workload and endpoint, from invocation metrics, request logs or counts."""
    settings = mlcost.settings()
    start, end = day_range(context)
    result = read_source(settings)
    if result is not None:
        # A file that cannot be read would make cost per prediction wrong: stop the partition and say why.
        result.raise_for_rejected()
        for warning in result.warnings[:20]:
            context.log.warning(warning)
    con = lake.connect(settings)
    written = publish_predictions(con, settings, result, start, end)
    unusable = unusable_files(con, settings.predictions_source, result)
    through, recent = daily_through(settings, "predictions_daily")
    return MaterializeResult(
        metadata={
            **through,
            "dagster/row_count": sum(written.values()),
            "files_read": len(result.files_read) if result else 0,
            "lines_skipped": sum(result.skipped_lines.values()) if result else 0,
            "lines_unfinished": sum(result.unfinished_lines.values()) if result else 0,
            "conflicting_datapoints": result.conflicts if result else 0,
            # Counter and rate rows that repeated a (timestamp, model, replica) already read: counted once.
            "duplicate_rows_collapsed": result.duplicates if result else 0,
        },
        check_results=[
            AssetCheckResult(
                check_name="prediction_files_unusable",
                passed=not unusable,
                severity=AssetCheckSeverity.WARN,
                description=describe_unusable(unusable)
                if unusable
                else "every prediction file gave successful predictions with at most half its lines skipped",
                metadata={**judged_days(start, end), "files": rows_table(unusable)},
            ),
            recent,
        ],
    )


@lake_asset_body("cost_per_prediction_daily")
def cost_per_prediction_daily(context: AssetExecutionContext, mlcost: MlcostResource):
    """Per day and workload: predictions, direct and loaded inference cost, cost per 1k predictions, η."""
    settings = mlcost.settings()
    start, end = day_range(context)
    judged = judged_days(start, end)
    con = lake.connect(settings)
    written = compute_cost_per_prediction(con, settings, start, end)
    rows, negative, table = [], [], []
    if lake.has_data(settings, "cost_per_prediction_daily"):
        lake.register_views(con, settings, ["cost_per_prediction_daily"])
        params = [start, end]
        rows = check_rows(con, "cost_per_prediction_daily", "cost_without_predictions", start, end)
        negative = check_rows(con, "cost_per_prediction_daily", "predictions_not_negative", start, end)
        table = con.execute(
            "SELECT workload, sum(predictions), 1000 * sum(inference_cost) / nullif(sum(predictions), 0), "
            "1000 * sum(loaded_cost) / nullif(sum(predictions), 0) FROM cost_per_prediction_daily "
            "WHERE usage_date BETWEEN ? AND ? GROUP BY 1 ORDER BY 1",
            params,
        ).fetchall()
    preview = ["| workload | predictions | $/1k direct | $/1k loaded |", "|---|---:|---:|---:|"] + [
        f"| {w} | {p:,.0f} | {d if d is None else round(d, 4)} | {lo if lo is None else round(lo, 4)} |"
        for w, p, d, lo in table
    ]
    through, recent = daily_through(settings, "cost_per_prediction_daily")
    yield MaterializeResult(
        metadata={
            **through,
            "dagster/row_count": sum(written.values()),
            "preview": MetadataValue.md("\n".join(preview)),
        },
        check_results=[
            AssetCheckResult(
                check_name="cost_without_predictions",
                passed=not rows,
                severity=AssetCheckSeverity.WARN,
                description=summarize(
                    rows,
                    lambda r: (
                        f"{r['workload']}: {r['days']} day(s), inference cost {amount(r['inference_cost'])} "
                        "without predictions"
                    ),
                    "workload(s) with inference cost but no predictions on some days (cost per prediction NULL)",
                )
                if rows
                else "workloads with inference cost but no predictions on some days (cost per prediction NULL)",
                metadata={**judged, "workloads": rows_table(rows)},
            ),
            AssetCheckResult(
                check_name="predictions_not_negative",
                passed=not negative,
                description=summarize(
                    negative,
                    lambda r: (
                        f"{r['usage_date']} {r['workload']}: {r['predictions']:,.0f} predictions".replace(
                            "-", "−"
                        )
                    ),
                    "row(s) with a negative prediction count",
                )
                if negative
                else None,
                metadata={**judged, "rows": len(negative), "examples": rows_table(negative)},
            ),
            recent,
        ],
    )
