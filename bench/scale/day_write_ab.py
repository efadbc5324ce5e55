# Usage: python bench/scale/day_write_ab.py EXPORT_FOLDER HOME_FOLDER ONE_SORT_MAX_LINES [sorted]
"""Ingest one export with line_items written by one sort (a large ONE_SORT_MAX_LINES) or in two passes (0).

With `sorted`, a delivery the footers cannot judge (CSV, coarse row groups) is sorted without the second chance
(`starts_in_time_order` answers no), as before it existed. Prints wall and CPU seconds of ingest_deliveries, the
seconds of each write step it took, and the process's peak resident set. Run once per write, in a fresh process and
a fresh HOME_FOLDER each (docs/benchmarks.md, sections 9 and 17).
"""

import resource
import sys
import time
from pathlib import Path

import pipelines.billing.ingest as ingest
from pipelines.billing.deliveries import discover_deliveries
from pipelines.config import Settings
from pipelines.storage import lake

source, home, limit = Path(sys.argv[1]), Path(sys.argv[2]), int(sys.argv[3])
ingest.ONE_SORT_MAX_LINES = limit
if sys.argv[4:] == ["sorted"]:
    ingest.starts_in_time_order = lambda con, lines: False
steps: dict[str, float] = {}
for name in (
    "starts_in_time_order",
    "_write_as_delivered",
    "written_clustered",
    "_sort_written",
    "_write_in_one_sort",
    "_write_by_day",
):
    step = getattr(ingest, name)

    def timed(*args, _step=step, _name=name, **kwargs):
        started = time.perf_counter()
        try:
            return _step(*args, **kwargs)
        finally:
            steps[_name] = steps.get(_name, 0.0) + time.perf_counter() - started

    setattr(ingest, name, timed)
settings = Settings(home=home)
con = lake.connect(settings)
wall, cpu = time.perf_counter(), time.process_time()
ingest.ingest_deliveries(con, settings, discover_deliveries(str(source), staging_dir=settings.staging))
print(
    f"ingest {time.perf_counter() - wall:.2f} s wall, {time.process_time() - cpu:.2f} s CPU, "
    f"peak {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024 / 1024:.2f} GB; "
    + ", ".join(
        f"{name} {seconds:.2f} s" for name, seconds in steps.items() if name != "written_clustered" or seconds
    )
)
