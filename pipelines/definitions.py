"""The Dagster code location of mlcost (`make ui`, workspace.yaml): the definitions for the MLCOST_* settings.

Built by `pipelines/orchestration/code_location.py`, which `mlcost run` uses too, so both see the same partitions.
"""

from pipelines.config import Settings
from pipelines.orchestration.code_location import build_definitions

defs = build_definitions(Settings.from_env())
