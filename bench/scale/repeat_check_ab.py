# Usage: python bench/scale/repeat_check_ab.py LINE_ITEMS_PARQUET HOME_FOLDER
"""Time ingestion's repeated-lines check (`_find_repeat_candidates`) on a published line_items file.

The file stands in for a staged delivery: the same view with the line hash that `stage_delivery` creates.
Prints the lines, the slices, the candidates found, wall and CPU seconds and the process's peak resident set.
Run it at two commits to compare implementations (docs/benchmarks.md, section 9).
"""

import math
import resource
import sys
import time
from pathlib import Path

import pipelines.billing.ingest as ingest
from pipelines.config import Settings
from pipelines.storage import lake
from pipelines.storage.sqlfiles import quote_literal

source, home = Path(sys.argv[1]), Path(sys.argv[2])
con = lake.connect(Settings(home=home))
line_hash = "hash(" + ", ".join(ingest.LINE_HASH_COLUMNS) + ")"
con.execute(
    f"CREATE TEMP VIEW staged AS SELECT *, {line_hash} AS {ingest.LINE_HASH} "
    f"FROM read_parquet({quote_literal(str(source))})"
)
lines = con.execute("SELECT count(*) FROM staged").fetchone()[0]
slices = 1 << max(0, math.ceil(math.log2(max(lines, 1) / ingest.LINES_PER_SLICE)))
wall, cpu = time.perf_counter(), time.process_time()
ingest._find_repeat_candidates(con, "staged")
seconds, cpu_seconds = time.perf_counter() - wall, time.process_time() - cpu
found = con.execute("SELECT count(*) FROM repeat_candidates").fetchone()[0]
print(
    f"{lines:,} lines, {slices} slices, {found:,} candidate hashes: {seconds:.1f} s wall, {cpu_seconds:.1f} s CPU, "
    f"peak {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024 / 1024:.2f} GB"
)
