"""The cost_report asset: the HTML report, rebuilt after every nightly run's reconciliation.

Unpartitioned: one page over whatever the warehouse holds. It runs in the monthly_reconciliation job (after the
reconciliation it depends on), so both `mlcost run` and the nightly chain end with a fresh page.
"""

from dagster import AssetExecutionContext, MaterializeResult, MetadataValue, asset

from pipelines.attribution.assets import cost_attribution, cost_by_category_daily, reconciliation
from pipelines.gpu.assets import gpu_efficiency_daily
from pipelines.predictions.assets import cost_per_prediction_daily
from pipelines.report.render import build_report
from pipelines.resources import MlcostResource


@asset(
    deps=[
        cost_attribution,
        cost_by_category_daily,
        gpu_efficiency_daily,
        cost_per_prediction_daily,
        reconciliation,
    ],
    group_name="report",
)
def cost_report(context: AssetExecutionContext, mlcost: MlcostResource) -> MaterializeResult:
    """One self-contained HTML page of charts and tables under $MLCOST_HOME/reports/ (sql/report/)."""
    report = build_report(mlcost.settings())
    empty = [s.chart.name for s in report.sections if not s.rows]
    if empty:
        context.log.info(f"cost_report: no rows for {', '.join(empty)} (their sections say so)")
    return MaterializeResult(
        metadata={
            "path": MetadataValue.path(str(report.path)),
            "latest": MetadataValue.url(report.latest.as_uri()),
            "as_of": str(report.as_of),
            "charts_drawn": sum(s.drawn for s in report.sections),
            "summary": MetadataValue.md(report.summary),
        }
    )
