"""The cost_report asset: the HTML report, rebuilt after every nightly run's reconciliation.

Unpartitioned: one page over whatever the warehouse holds. It runs in the monthly_reconciliation job (after the
reconciliation it depends on), so both `mlcost run` and the nightly chain end with a fresh page.
"""

from dagster import (
    AssetCheckResult,
    AssetCheckSeverity,
    AssetCheckSpec,
    AssetExecutionContext,
    MaterializeResult,
    MetadataValue,
    asset,
)

from pipelines.attribution.assets import cost_attribution, cost_by_category_daily, reconciliation
from pipelines.gpu.assets import gpu_efficiency_daily
from pipelines.orchestration.instance_config import POOL
from pipelines.orchestration.resources import MlcostResource
from pipelines.predictions.assets import cost_per_prediction_daily
from pipelines.report.render import build_report

# Empty when every sharing strategy is `keep` (the shipped rules): not a missing source.
MAY_BE_EMPTY = {"shared_spread_to"}


@asset(
    deps=[
        cost_attribution,
        cost_by_category_daily,
        gpu_efficiency_daily,
        cost_per_prediction_daily,
        reconciliation,
    ],
    group_name="report",
    # Every asset is in the lake's one pool (pipelines/orchestration/instance_config.py): the page is made from one consistent
    # catalog, never while a step is rewriting the tables it reads.
    pool=POOL,
    check_specs=[
        AssetCheckSpec(
            "every_section_has_data",
            asset="cost_report",
            blocking=False,
            description="Every chart of the HTML report has rows (the shared-cost spread chart may be empty: "
            "the shipped rules spread nothing). A warning. When it warns, the sections named lack a source: "
            "set MLCOST_GPU_SOURCE or MLCOST_PREDICTIONS_SOURCE, or check that their assets' runs succeeded.",
        )
    ],
)
def cost_report(context: AssetExecutionContext, mlcost: MlcostResource):
    """One self-contained HTML page of charts and tables under $MLCOST_HOME/reports/ (sql/report/)."""
    report = build_report(mlcost.settings())
    empty = [s.chart.name for s in report.sections if not s.rows]
    if empty:
        context.log.warning(f"cost_report: no rows for {', '.join(empty)} (their sections say so)")
    missing = [name for name in empty if name not in MAY_BE_EMPTY]
    yield MaterializeResult(
        metadata={
            "path": MetadataValue.path(str(report.path)),
            "latest": MetadataValue.url(report.latest.as_uri()),
            "as_of": str(report.as_of),
            "charts_drawn": sum(s.drawn for s in report.sections),
            "summary": MetadataValue.md(report.summary),
        }
    )
    yield AssetCheckResult(
        check_name="every_section_has_data",
        passed=not missing,
        severity=AssetCheckSeverity.WARN,
        description=f"no rows for: {', '.join(missing)} (their sections say so)"
        if missing
        else "every chart of the report has rows (no GPU logs or prediction counts leave theirs empty)",
        metadata={"empty_sections": ", ".join(missing) or "none"},
    )
