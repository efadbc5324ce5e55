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
from pipelines.orchestration.partition_figures import (
    add_per_partition,
    grouped_by_day,
    money,
    of_run,
    ratio,
    this,
)
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
    add_per_partition(context, written)
    return MaterializeResult(
        metadata={
            **through,
            of_run("rows", start, end): sum(written.values()),
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
    rows, negative = [], []
    table: dict[str, list[float]] = {}
    grouped: dict[str, list[dict]] = {}
    if lake.has_data(settings, "cost_per_prediction_daily"):
        lake.register_views(con, settings, ["cost_per_prediction_daily"])
        params = [start, end]
        rows = check_rows(con, "cost_per_prediction_daily", "cost_without_predictions", start, end)
        negative = check_rows(con, "cost_per_prediction_daily", "predictions_not_negative", start, end)
        # One grouped query: per day and workload; each day's own figures go on that day's materialization.
        grouped = grouped_by_day(
            con,
            "SELECT usage_date, workload, sum(predictions) AS predictions, sum(inference_cost) AS inference_cost, "
            "sum(loaded_cost) AS loaded_cost, sum(inference_idle_gpu_cost) AS idle_cost, "
            "coalesce(sum(eta * inference_cost) / nullif(sum(inference_cost) FILTER (WHERE eta IS NOT NULL), 0), "
            "avg(eta)) AS eta "
            "FROM cost_per_prediction_daily WHERE usage_date BETWEEN ? AND ? GROUP BY ALL ORDER BY ALL",
            params,
        )
        for day_rows in grouped.values():
            for r in day_rows:
                w = table.setdefault(r["workload"], [0.0, 0.0, 0.0])
                w[0] += float(r["predictions"] or 0)
                w[1] += float(r["inference_cost"] or 0)
                w[2] += float(r["loaded_cost"] or 0)
    add_per_partition(context, written, _prediction_figures, grouped)
    preview = [
        "| workload | predictions | $/1k direct | $/1k loaded |",
        "|---|---:|---:|---:|",
    ] + [
        f"| {w} | {p:,.0f} | {_per_1k(d, p)} | {_per_1k(lo, p)} |" for w, (p, d, lo) in sorted(table.items())
    ]
    through, recent = daily_through(settings, "cost_per_prediction_daily")
    yield MaterializeResult(
        metadata={
            **through,
            of_run("rows", start, end): sum(written.values()),
            of_run("predictions", start, end): round(sum(p for p, _, _ in table.values())),
            of_run("inference cost", start, end): money(sum(d for _, d, _ in table.values())),
            of_run("by workload", start, end): MetadataValue.md("\n".join(preview)),
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


def _per_1k(cost: float, predictions: float) -> float | None:
    """Dollars per 1,000 predictions to 1e-4; NULL without predictions."""
    return round(1000 * cost / predictions, 4) if predictions else None


def _prediction_figures(rows: list[dict]) -> dict:
    """One day's predictions, inference cost, $/1k (direct and loaded), η and idle GPU cost, with a per-workload table."""
    predictions = sum(float(r["predictions"] or 0) for r in rows)
    direct = sum(float(r["inference_cost"] or 0) for r in rows)
    loaded = sum(float(r["loaded_cost"] or 0) for r in rows)
    lines = [
        "| workload | predictions | inference cost | $/1k direct | $/1k loaded | η |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for r in rows:
        p = float(r["predictions"] or 0)
        eta = "" if r["eta"] is None else f"{float(r['eta']):.3f}"
        lines.append(
            f"| {r['workload']} | {p:,.0f} | {float(r['inference_cost'] or 0):,.2f} | "
            f"{_per_1k(float(r['inference_cost'] or 0), p)} | {_per_1k(float(r['loaded_cost'] or 0), p)} | {eta} |"
        )
    weighed = [r for r in rows if r["eta"] is not None and r["inference_cost"]]
    weight = sum(float(r["inference_cost"]) for r in weighed)
    return {
        this("predictions"): round(predictions),
        # η of the day's inference GPUs, each workload weighted by its inference cost; NULL without GPU samples.
        this("η inference (cost-weighted)"): ratio(
            sum(float(r["eta"]) * float(r["inference_cost"]) for r in weighed) / weight if weight else None
        ),
        this("inference cost"): money(direct),
        this("loaded cost"): money(loaded),
        this("$/1k predictions direct"): _per_1k(direct, predictions),
        this("$/1k predictions loaded"): _per_1k(loaded, predictions),
        this("inference idle GPU cost"): money(sum(float(r["idle_cost"] or 0) for r in rows)),
        this("by workload"): MetadataValue.md("\n".join(lines)),
    }
