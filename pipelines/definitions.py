"""The Dagster code location: every asset, check, job, schedule and sensor of mlcost, and its one resource."""

from dagster import Definitions

from pipelines.attribution import assets as attribution
from pipelines.billing import assets as billing
from pipelines.config import Settings
from pipelines.gpu import assets as gpu
from pipelines.jobs import JOBS
from pipelines.operations import SCHEDULES, SENSORS, with_freshness
from pipelines.predictions import assets as predictions
from pipelines.report import assets as report
from pipelines.resources import MlcostResource

defs = Definitions(
    assets=[
        billing.line_items,
        attribution.cost_attribution,
        attribution.cost_by_category_daily,
        attribution.reconciliation,
        gpu.gpu_samples,
        gpu.gpu_efficiency_daily,
        predictions.predictions_daily,
        predictions.cost_per_prediction_daily,
        report.cost_report,
    ],
    jobs=JOBS,
    schedules=SCHEDULES,
    sensors=SENSORS,
    resources={"mlcost": MlcostResource.from_settings(Settings.from_env())},
)
# The daily tables turn red in the UI when older than 36 hours (docs/operations.md).
defs = with_freshness(defs)
