"""mlcost: ML cost attribution, GPU efficiency and cost per prediction, orchestrated by Dagster."""

import warnings

# backfill_policy and pools are beta/preview in Dagster 1.13; we rely on them knowingly, so their warnings
# would only bury the messages that matter. Filtered here because asset modules are imported in many orders.
warnings.filterwarnings("ignore", message=r".*is currently in (beta|preview).*")
