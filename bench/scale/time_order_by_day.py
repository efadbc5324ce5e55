# Usage: python bench/scale/time_order_by_day.py MONTH_FOLDER OUT_FOLDER
"""Rewrite a generated month (MONTH_FOLDER/cur2) in time order, a day at a time, into OUT_FOLDER/cur2.

The same lines as bench/stages.py's `stage_time_order`, ordered the same way (usage start, resource, then the
line's place in the generated files), but without sorting the whole export at once: that sort, on 33.5M lines of
~130 columns, filled the 36 GB free on this machine's disk (docs/benchmarks.md, section 15). Here pass 1 splits
the raw lines into one folder per usage day (DuckDB's partitioned write, no sort) and pass 2 sorts each day on its
own and writes it as one file, `time-ordered-<day>.snappy.parquet`, so the files in name order are the month in
time order. Temporary space: one snappy copy of the export, each day's removed once written. Data preparation for
a by-hand measurement (section 16), not a benchmark stage: prints its own times.
"""

import shutil
import sys
import time
from pathlib import Path

import duckdb

from pipelines.storage.sqlfiles import quote_literal

source, out = Path(sys.argv[1]), Path(sys.argv[2])
files = sorted(str(f) for f in (source / "cur2").rglob("*.parquet"))
if not files:
    raise SystemExit(f"no Parquet files under {source / 'cur2'}")
target = out / "cur2"
days = out / "days"
shutil.rmtree(out, ignore_errors=True)
target.mkdir(parents=True)
con = duckdb.connect(config={"memory_limit": "4GB", "temp_directory": str(out / "spill")})
con.execute("SET TimeZone = 'UTC'")
# 65,536 rows a day before a flush: 31 days' buffers of ~130 columns stay within the memory limit.
con.execute("SET partitioned_write_flush_threshold = 65536")
started = time.perf_counter()
con.execute(
    "COPY (SELECT *, strftime(line_item_usage_start_date, '%Y-%m-%d') AS _day "
    "FROM read_parquet(?, filename = '_source_file', file_row_number = true)) "
    f"TO {quote_literal(str(days))} (FORMAT parquet, COMPRESSION snappy, PARTITION_BY (_day))",
    [files],
)
print(f"pass 1 (split by day): {time.perf_counter() - started:.1f} s", flush=True)
started = time.perf_counter()
lines = 0
for folder in sorted(days.glob("_day=*")):
    day = folder.name.removeprefix("_day=")
    written = target / f"time-ordered-{day}.snappy.parquet"
    lines += con.execute(
        "COPY (SELECT * EXCLUDE (_source_file, file_row_number) "
        "FROM read_parquet(?, hive_partitioning = false) "
        "ORDER BY line_item_usage_start_date, line_item_resource_id, _source_file, file_row_number) "
        f"TO {quote_literal(str(written))} (FORMAT parquet, COMPRESSION snappy)",
        [sorted(str(f) for f in folder.glob("*.parquet"))],
    ).fetchone()[0]
    shutil.rmtree(folder)
print(f"pass 2 (each day sorted): {time.perf_counter() - started:.1f} s, {lines:,} lines", flush=True)
shutil.rmtree(days, ignore_errors=True)
shutil.rmtree(out / "spill", ignore_errors=True)
