# Usage: python bench/scale/legacy_csv.py CUR2_FOLDER OUT.csv.gz
"""Write the lines of a CUR 2.0 Parquet export (CUR2_FOLDER's files in name order, rows in order) as one legacy
CUR gzip CSV, the format AWS's legacy CUR delivers: `lineItem/UsageStartDate`-style headers, one
`resourceTags/user:<key>` column per tag key, times as `2026-10-01T00:00:00Z`, missing values as empty fields.

Columns whose legacy header would not read back as the same column (pipelines/billing/formats.py) and the other
MAP columns (product, discount, cost_category: CUR 2.0 only) are left out. Data preparation for a by-hand
measurement of CSV ingestion (docs/benchmarks.md, section 17), not a benchmark stage: prints its own time.
"""

import sys
import time
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq

from pipelines.billing.formats import _canonical_name
from pipelines.storage.sqlfiles import quote_ident, quote_literal

source, out = Path(sys.argv[1]), Path(sys.argv[2])
files = sorted(str(f) for f in source.rglob("*.parquet"))
if not files:
    raise SystemExit(f"no Parquet files under {source}")
CATEGORIES = {"bill", "identity", "line_item", "pricing", "product", "reservation", "savings_plan"}


def legacy_header(column: str) -> str | None:
    """`line_item_usage_start_date` -> `lineItem/UsageStartDate` (product attributes in lowerCamel, as AWS writes
    them), or None when no spelling reads back as `column`."""
    for category in sorted(CATEGORIES, key=len, reverse=True):
        if column.startswith(category + "_"):
            words = column[len(category) + 1 :].split("_")
            head = words[0] + "".join(w.title() for w in words[1:])
            field = head if category == "product" else head[:1].upper() + head[1:]
            prefix = "".join(w.title() if i else w for i, w in enumerate(category.split("_")))
            for name in (f"{prefix}/{field}", f"{prefix}/{field.replace('ARN', 'Arn')}"):
                if _canonical_name(name) == column:
                    return name
            return None
    return None


schema = pq.read_schema(files[0])
select, skipped = [], []
for field in schema:
    if field.name == "resource_tags":
        keys = duckdb.execute(
            "SELECT DISTINCT unnest(map_keys(resource_tags)) FROM read_parquet(?) ORDER BY 1", [files[:1]]
        ).fetchall()
        for (key,) in keys:
            header = "resourceTags/" + key.replace("_", ":", 1)
            select.append(f"map_extract_value(resource_tags, {quote_literal(key)}) AS {quote_ident(header)}")
        continue
    header = legacy_header(field.name)
    if header is None or pa.types.is_map(field.type):
        skipped.append(field.name)
        continue
    value = quote_ident(field.name)
    if pa.types.is_timestamp(field.type):
        value = f"strftime({value}, '%Y-%m-%dT%H:%M:%SZ')"
    select.append(f"{value} AS {quote_ident(header)}")
print(f"{len(select)} columns; left out: {', '.join(skipped)}", flush=True)
out.parent.mkdir(parents=True, exist_ok=True)
started = time.perf_counter()
con = duckdb.connect(config={"memory_limit": "3GB", "threads": 2})
con.execute("SET TimeZone = 'UTC'")
listed = "[" + ", ".join(quote_literal(f) for f in files) + "]"
con.execute(
    f"COPY (SELECT {', '.join(select)} FROM read_parquet({listed})) TO {quote_literal(str(out))} "
    "(FORMAT csv, HEADER true, COMPRESSION gzip)"
)
print(f"wrote {out} ({out.stat().st_size / 1e6:.0f} MB) in {time.perf_counter() - started:.1f} s")
