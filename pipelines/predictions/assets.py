"""Dagster assets for cost per prediction: predictions_daily and cost_per_prediction_daily."""

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
from pipelines.attribution.assets import cost_attribution
from pipelines.catalog import table_schema
from pipelines.checks import check_rows, rows_table
from pipelines.gpu.assets import gpu_efficiency_daily
from pipelines.partitions import DAILY_ASSET, day_range
from pipelines.predictions.cost import (
    compute_cost_per_prediction,
    describe_unusable,
    publish_predictions,
    read_source,
    unusable_files,
)
from pipelines.resources import MlcostResource


@asset(
    **DAILY_ASSET,
    deps=[cost_attribution],
    group_name="predictions",
    metadata={"dagster/column_schema": table_schema("predictions_daily")},
    check_specs=[AssetCheckSpec("prediction_files_unusable", asset="predictions_daily", blocking=False)],
)
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
    return MaterializeResult(
        metadata={
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
                metadata={"files": rows_table(unusable)},
            )
        ],
    )


@asset(
    **DAILY_ASSET,
    deps=[cost_attribution, predictions_daily, gpu_efficiency_daily],
    group_name="predictions",
    metadata={"dagster/column_schema": table_schema("cost_per_prediction_daily")},
    check_specs=[
        AssetCheckSpec("cost_without_predictions", asset="cost_per_prediction_daily", blocking=False),
        AssetCheckSpec("predictions_not_negative", asset="cost_per_prediction_daily", blocking=True),
    ],
)
def cost_per_prediction_daily(context: AssetExecutionContext, mlcost: MlcostResource):
    """Per day and workload: predictions, direct and loaded inference cost, cost per 1k predictions, η."""
    settings = mlcost.settings()
    start, end = day_range(context)
    con = lake.connect(settings)
    written = compute_cost_per_prediction(con, settings, start, end)
    rows, negative, table = [], 0, []
    if lake.has_data(settings, "cost_per_prediction_daily"):
        lake.register_views(con, settings, ["cost_per_prediction_daily"])
        params = [start, end]
        rows = check_rows(con, "cost_without_predictions", start, end)
        negative = con.execute(
            "SELECT count(*) FROM cost_per_prediction_daily WHERE usage_date BETWEEN ? AND ? AND predictions < 0",
            params,
        ).fetchone()[0]
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
    yield MaterializeResult(
        metadata={
            "dagster/row_count": sum(written.values()),
            "preview": MetadataValue.md("\n".join(preview)),
        },
        check_results=[
            AssetCheckResult(
                check_name="cost_without_predictions",
                passed=not rows,
                severity=AssetCheckSeverity.WARN,
                description="workloads with inference cost but no predictions on some days (cost per prediction NULL)",
                metadata={"workloads": rows_table(rows)},
            ),
            AssetCheckResult(
                check_name="predictions_not_negative", passed=negative == 0, metadata={"rows": negative}
            ),
        ],
    )
