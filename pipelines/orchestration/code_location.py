"""Build the Dagster definitions of mlcost for given settings: every asset, check, job, schedule and sensor.

`pipelines/definitions.py` (the code location `make ui` loads) and `mlcost run` both build them here, so the
UI's partitions are the ones the runs used: they start at `partitions.partition_start(settings)`.
"""

from __future__ import annotations

from datetime import date

from dagster import AssetSpec, Definitions

from pipelines.attribution import assets as attribution
from pipelines.attribution import commitments, tag_coverage
from pipelines.billing import assets as billing
from pipelines.config import Settings
from pipelines.decisions import assets as decisions
from pipelines.gpu import assets as gpu
from pipelines.orchestration import partitions
from pipelines.orchestration.jobs import JOBS, executor_for
from pipelines.orchestration.operations import SCHEDULES, SENSORS, with_freshness
from pipelines.orchestration.resources import MlcostResource
from pipelines.predictions import assets as predictions
from pipelines.report import assets as report

ASSETS = [
    billing.line_items,
    attribution.cost_attribution,
    attribution.cost_by_category_daily,
    attribution.reconciliation,
    attribution.rule_coverage,
    gpu.gpu_samples,
    gpu.gpu_efficiency_daily,
    gpu.gpu_efficiency_by_device_daily,
    predictions.predictions_daily,
    predictions.cost_per_prediction_daily,
    report.cost_report,
    gpu.gpu_cost_by_pod_daily,
    commitments.commitment_utilization,
    tag_coverage.tag_coverage,
    decisions.cost_anomalies,
    decisions.month_end_forecast,
    decisions.budget_status,
    decisions.recommendations,
]


def build_definitions(settings: Settings, *, start: date | None = None) -> Definitions:
    """The definitions with partitions from `start` (default: `partition_start(settings)`, scanning the source)."""
    start = start or partitions.partition_start(settings, scan_source=True)
    monthly, daily = partitions.billing_periods_from(start), partitions.days_from(start)

    def with_partitions(spec: AssetSpec) -> AssetSpec:
        if spec.partitions_def == partitions.billing_periods:
            return spec.replace_attributes(partitions_def=monthly)
        if spec.partitions_def == partitions.days:
            return spec.replace_attributes(partitions_def=daily)
        return spec

    defs = Definitions(
        assets=[asset.map_asset_specs(with_partitions) for asset in ASSETS],
        jobs=JOBS,
        schedules=SCHEDULES,
        sensors=SENSORS,
        resources={"mlcost": MlcostResource.from_settings(settings)},
        executor=executor_for(settings),
    )
    # The daily tables turn red in the UI when older than 36 hours (docs/operations.md).
    return with_freshness(defs)
