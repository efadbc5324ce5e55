"""Run one of `mlcost run`'s Dagster jobs for a partition range by hand, on an existing home and instance.

Usage: MLCOST_HOME=HOME MLCOST_CUR_SOURCE=DATA/cur2 DAGSTER_HOME=HOME/dagster_home MLCOST_PARTITION_START=2026-10-01
.venv/bin/python bench/scale/run_job.py JOB FIRST LAST   (JOB: ingest_billing, daily_tables, monthly_reconciliation;
FIRST/LAST: partition keys, YYYY-MM-01 for the monthly jobs, days for daily_tables).
Prints the run's wall time, each step's time and the process's peak resident set. The 300M month's monthly run of
docs/benchmarks.md section 12 was run this way, after its `mlcost run` had stopped in that run."""

import resource
import sys
import time
from datetime import date

from pipelines.config import Settings
from pipelines.orchestration import runner
from pipelines.orchestration.code_location import build_definitions
from pipelines.orchestration.partitions import partition_start

job, first, last = sys.argv[1:4]
settings = Settings.from_env()
defs = build_definitions(settings, start=partition_start(settings, run_months=[first[:8] + "01"]))
instance = runner.dagster_instance(settings)
t0 = time.perf_counter()
run_id = runner._execute(defs, job, instance, first, last)
wall = time.perf_counter() - t0
stats = instance.get_run_stats(run_id)
print(job, first, last, "run", round(stats.end_time - stats.start_time, 1), "s; call", round(wall, 1), "s")
for step in instance.get_run_step_stats(run_id):
    print("  ", step.step_key, step.status.value, round(step.end_time - step.start_time, 1), "s")
print("peak GB", round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1e6, 2), "date", date.today())
