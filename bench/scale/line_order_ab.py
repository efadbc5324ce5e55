# Usage: python bench/scale/line_order_ab.py EXPORT_FOLDER WORK_FOLDER [REPEATS]
"""A/B: line_items COPY in source order (old) vs ordered by usage day (new), CPU and wall seconds, alternating."""

import resource
import sys
import time
from pathlib import Path

from pipelines.billing.deliveries import discover_deliveries
from pipelines.billing.ingest import stage_delivery
from pipelines.config import Settings
from pipelines.storage import lake
from pipelines.storage.sqlfiles import load_sql, quote_literal

src = Path(sys.argv[1])
work = Path(sys.argv[2])
work.mkdir(parents=True, exist_ok=True)
settings = Settings(home=work / "home")
con = lake.connect(settings)
d = discover_deliveries(str(src), staging_dir=settings.staging)[0]
stage_delivery(con, list(d.files), delivery_id="d", name="staged", out=work / "warm.parquet")
params = {"delivery_id": "d", "source_format": "cur2"}
sql = load_sql("line_items")
variants = {
    "source order (old)": f"COPY ({sql}) TO {{out}} ({lake.PARQUET_OPTIONS})",
    "by usage day (new)": f"COPY (FROM ({sql}) ORDER BY usage_date, charge_period_start, source_file, source_row) TO {{out}} ({lake.PARQUET_OPTIONS})",
    "usage_date only": f"COPY (FROM ({sql}) ORDER BY usage_date) TO {{out}} ({lake.PARQUET_OPTIONS})",
    "partition_by day": f"COPY ({sql}) TO {{out}} ({lake.PARQUET_OPTIONS}, PARTITION_BY (usage_date), OVERWRITE_OR_IGNORE true)",
}


def cpu():
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


for rep in range(int(sys.argv[3]) if len(sys.argv) > 3 else 2):
    for name, q in variants.items():
        out = work / f"{rep}-{name[:3]}.parquet"
        c0, t0 = cpu(), time.perf_counter()
        con.execute(q.format(out=quote_literal(str(out))), params)
        print(f"{name}: wall {time.perf_counter() - t0:.2f} s, cpu {cpu() - c0:.2f} s", flush=True)
