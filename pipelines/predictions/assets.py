"""Dagster assets for cost per prediction: predictions_daily and cost_per_prediction_daily."""

from datetime import date

import duckdb
from dagster import (
    AssetCheckResult,
    AssetCheckSeverity,
    AssetExecutionContext,
    MaterializeResult,
    MetadataValue,
)

from pipelines.config import Settings
from pipelines.orchestration.checks import amount, judged_days, rows_table
from pipelines.orchestration.data_through import daily_through
from pipelines.orchestration.lake_assets import CheckWords, lake_asset, lake_asset_body
from pipelines.orchestration.partition_figures import (
    add_per_partition,
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


def workload_figures(con: duckdb.DuckDBPyConnection, settings: Settings, start: date, end: date) -> dict:
    """The run's predictions and inference cost, and per workload its $ per 1,000 predictions."""
    table = con.execute(
        "SELECT workload, sum(predictions), fsum(inference_cost), fsum(loaded_cost) FROM cost_per_prediction_daily "
        "WHERE usage_date BETWEEN ? AND ? GROUP BY ALL ORDER BY ALL",
        [start, end],
    ).fetchall()
    preview = ["| workload | predictions | $/1k direct | $/1k loaded |", "|---|---:|---:|---:|"] + [
        f"| {w} | {float(p or 0):,.0f} | {_per_1k(float(d or 0), float(p or 0))} | "
        f"{_per_1k(float(lo or 0), float(p or 0))} |"
        for w, p, d, lo in table
    ]
    return {
        "predictions": round(sum(float(p or 0) for _, p, _, _ in table)),
        "inference cost": money(sum(float(d or 0) for _, _, d, _ in table)),
        "by workload": MetadataValue.md("\n".join(preview)),
    }


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


cost_per_prediction_daily = lake_asset(
    "cost_per_prediction_daily",
    compute=compute_cost_per_prediction,
    figures=workload_figures,
    # One grouped query: per day and workload; each day's own figures go on that day's materialization.
    day_figures=(
        "SELECT usage_date, workload, sum(predictions) AS predictions, fsum(inference_cost) AS inference_cost, "
        "fsum(loaded_cost) AS loaded_cost, fsum(inference_idle_gpu_cost) AS idle_cost, "
        "coalesce(sum(eta * inference_cost) / nullif(fsum(inference_cost) FILTER (WHERE eta IS NOT NULL), 0), "
        "avg(eta)) AS eta "
        "FROM cost_per_prediction_daily WHERE usage_date BETWEEN ? AND ? GROUP BY ALL ORDER BY ALL",
        _prediction_figures,
    ),
    checks={
        "cost_without_predictions": CheckWords(
            line=lambda r: (
                f"{r['workload']}: {r['days']} day(s), inference cost {amount(r['inference_cost'])} without predictions"
            ),
            what="workload(s) with inference cost but no predictions on some days (cost per prediction NULL)",
            passed="workloads with inference cost but no predictions on some days (cost per prediction NULL)",
            rows_key="workloads",
        ),
        "predictions_not_negative": CheckWords(
            line=lambda r: f"{r['usage_date']} {r['workload']}: {r['predictions']:,.0f} predictions".replace(
                "-", "−"
            ),
            what="row(s) with a negative prediction count",
            rows_key="examples",
        ),
    },
)
