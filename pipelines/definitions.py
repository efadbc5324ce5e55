"""The Dagster code location: every asset, check, job, schedule and sensor of mlcost, and its one resource."""

from dagster import Definitions

from pipelines.attribution import assets as attribution_assets
from pipelines.billing import assets as billing_assets
from pipelines.config import Settings
from pipelines.jobs import JOBS
from pipelines.resources import MlcostResource

defs = Definitions(
    assets=[
        billing_assets.line_items,
        attribution_assets.cost_attribution,
        attribution_assets.cost_by_category_daily,
        attribution_assets.reconciliation,
    ],
    jobs=JOBS,
    resources={"mlcost": MlcostResource.from_settings(Settings.from_env())},
)
