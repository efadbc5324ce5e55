# Usage: python bench/scale/day_write_ab.py EXPORT_FOLDER HOME_FOLDER ONE_SORT_MAX_LINES
"""Ingest one export with line_items written by one sort (a large ONE_SORT_MAX_LINES) or in two passes (0).

Prints wall and CPU seconds of ingest_deliveries and the process's peak resident set. Run once per write, in a
fresh process and a fresh HOME_FOLDER each (docs/benchmarks.md, section 9).
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
settings = Settings(home=home)
con = lake.connect(settings)
wall, cpu = time.perf_counter(), time.process_time()
ingest.ingest_deliveries(con, settings, discover_deliveries(str(source), staging_dir=settings.staging))
print(
    f"ingest {time.perf_counter() - wall:.2f} s wall, {time.process_time() - cpu:.2f} s CPU, "
    f"peak {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024 / 1024:.2f} GB"
)
