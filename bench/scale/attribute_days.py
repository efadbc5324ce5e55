"""Attribute days start..end of an ingested month by hand, in a fresh process: rows, wall seconds, peak RSS.

Usage: MLCOST_HOME=HOME MLCOST_CUR_SOURCE=DATA/cur2 .venv/bin/python bench/scale/attribute_days.py 2026-10-15 2026-10-15
[SQL ...]  (extra statements run first, e.g. "SET threads=1").
The out-of-memory rows of the table were measured before compute.joins_as_written, which attribute() now applies.
The by-hand figures of docs/benchmarks.md section 10 come from it."""

import resource
import sys
import time
from datetime import date

from pipelines.attribution import compute
from pipelines.attribution.rules import load_rules
from pipelines.config import Settings
from pipelines.storage import lake

settings = Settings.from_env()
rules = load_rules(settings.rules_path)
con = lake.connect(settings)
for stmt in sys.argv[3:]:
    con.execute(stmt)
s, e = date.fromisoformat(sys.argv[1]), date.fromisoformat(sys.argv[2])
t0 = time.perf_counter()
try:
    w = compute.attribute(con, settings, rules, s, e)
    print("ok", sum(w.values()), "rows")
except Exception as ex:
    print("FAILED", type(ex).__name__, str(ex)[:300])
print(
    "seconds",
    round(time.perf_counter() - t0, 1),
    "peak GB",
    round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1e6, 2),
)
