"""`mlcost export showback`: direct, spread and total cost per owner and category for one billing period.

One CSV and one Parquet per period and owner kind (`showback-<by>-YYYY-MM.*`). Both say what they were computed
from: the CSV in `#` comment lines above the header, the Parquet in its key-value metadata (`mlcost.*` keys): the
rules file and its SHA-256 (the file configured when the export ran), the delivery the period's lines came from,
and the bill's totals the file sums to.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from pathlib import Path

import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from pipelines.billing.formats import tag_key
from pipelines.config import Settings
from pipelines.exports.common import (
    bill_totals,
    check_sums,
    file_sha256,
    open_warehouse,
    replace_atomically,
    rules_file,
    scratch_name,
)
from pipelines.storage.sqlfiles import load_sql

# --by: which tag names the owner (None: the workload itself), whether the workload must itself be that tag's
# value, and what an owner-less workload is called.
OWNERS = {
    "workload": (None, False, None),
    "team": ("user:team", False, "(no team)"),
    "model": ("user:model", True, "(not a model)"),
}


@dataclass
class ShowbackExport:
    csv: Path
    parquet: Path
    rows: int
    metadata: dict[str, str]


def export_showback(
    settings: Settings, period: date, by: str, out: Path | None = None, owner_tag: str | None = None
) -> ShowbackExport:
    tag, is_workload_tag, unowned = OWNERS[by]
    tag = owner_tag or tag
    out = Path(out) if out else settings.home / "exports" / "showback"
    out.mkdir(parents=True, exist_ok=True)
    con = open_warehouse(settings, period)
    try:
        table = con.execute(
            load_sql("exports/showback"),
            {
                "period": period,
                "owner_tag": tag_key(tag) if tag else None,
                "owner_is_workload_tag": is_workload_tag,
                "unowned": unowned,
            },
        ).arrow()
        if hasattr(table, "read_all"):
            table = table.read_all()
        bill = bill_totals(con, period)
    finally:
        con.close()
    table = table.rename_columns([by if c == "owner" else c for c in table.column_names])
    sums: dict[str, tuple[float, float]] = {}
    for cur, billed, total in zip(
        table["billing_currency"].to_pylist(),
        table["billed_cost"].to_pylist(),
        table["total_cost"].to_pylist(),
        strict=True,
    ):
        b, e = sums.get(cur, (0.0, 0.0))
        sums[cur] = (b + billed, e + total)
    name = f"showback-{by}-{period:%Y-%m}"
    check_sums(name, sums, bill)
    rules = rules_file(settings)
    metadata = {
        "mlcost.period": f"{period:%Y-%m}",
        "mlcost.by": by,
        "mlcost.owner_tag": tag or "",
        "mlcost.rules_file": str(rules),
        "mlcost.rules_sha256": file_sha256(rules),
        "mlcost.delivery_id": "; ".join(t.delivery_id or "" for t in bill),
        "mlcost.bill_effective_cost": "; ".join(f"{t.effective_cost:.2f} {t.currency}" for t in bill),
        "mlcost.bill_billed_cost": "; ".join(f"{t.billed_cost:.2f} {t.currency}" for t in bill),
    }
    csv, parquet = out / f"{name}.csv", out / f"{name}.parquet"
    tmp_csv, tmp_parquet = scratch_name(csv), scratch_name(parquet)
    try:
        pq.write_table(
            table.replace_schema_metadata({**(table.schema.metadata or {}), **metadata}), tmp_parquet
        )
        with open(tmp_csv, "wb") as f:
            header = [
                f"# mlcost showback by {by}, billing period {period:%Y-%m}: effective cost per {by} and category",
                f"# rules file {rules} sha256 {metadata['mlcost.rules_sha256']}",
                f"# delivery {metadata['mlcost.delivery_id']}",
                f"# sums to the bill: effective {metadata['mlcost.bill_effective_cost']}, "
                f"billed {metadata['mlcost.bill_billed_cost']}",
            ]
            f.write(("\n".join(header) + "\n").encode())
            pacsv.write_csv(table, f)
        replace_atomically(tmp_parquet, parquet)
        replace_atomically(tmp_csv, csv)
    finally:
        tmp_csv.unlink(missing_ok=True)
        tmp_parquet.unlink(missing_ok=True)
    return ShowbackExport(csv, parquet, table.num_rows, metadata)
