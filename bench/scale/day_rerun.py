# Usage: PYTHONPATH=. python bench/scale/day_rerun.py LINES WORK_FOLDER  (from the repo root: the generator is fixtures/)
"""10M-line month: ingestion (new: ordered by day), the month's attribution, one day's attribution; CPU and wall."""

import resource
import sys
import time
from datetime import date
from pathlib import Path

from fixtures.model_company.scaled import generate_scaled_month
from pipelines.attribution.compute import attribute
from pipelines.attribution.rules import load_rules
from pipelines.billing.deliveries import discover_deliveries
from pipelines.billing.ingest import ingest_deliveries
from pipelines.config import Settings
from pipelines.storage import lake

lines = int(sys.argv[1])
work = Path(sys.argv[2])


def cpu():
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def step(name, fn):
    c0, t0 = cpu(), time.perf_counter()
    out = fn()
    print(
        f"{name}: wall {time.perf_counter() - t0:.1f} s, cpu {cpu() - c0:.1f} s, maxrss {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1e6:.2f} GB",
        flush=True,
    )
    return out


src = work / "export"
if not (src / "cur2").exists():
    step("generate", lambda: generate_scaled_month(src, lines=lines, month="2026-10"))
settings = Settings(home=work / "home")
con = lake.connect(settings)
step(
    "ingest",
    lambda: ingest_deliveries(
        con, settings, discover_deliveries(str(src / "cur2"), staging_dir=settings.staging)
    ),
)
rules = load_rules()
step("attribute month", lambda: attribute(con, settings, rules, date(2026, 10, 1), date(2026, 10, 31)))
step("attribute 2026-10-15", lambda: attribute(con, settings, rules, date(2026, 10, 15), date(2026, 10, 15)))
step(
    "attribute 2026-10-15 again",
    lambda: attribute(con, settings, rules, date(2026, 10, 15), date(2026, 10, 15)),
)
