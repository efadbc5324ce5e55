"""Legacy CUR: gzip CSV with ``category/Name`` headers, one assembly folder per delivery, and its manifest."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import polars as pl

from .company import BUCKET, PAYER_ACCOUNT
from .cur_fields import DT, FIELDS
from .periods import Month, to_datetime

REPORT_NAME = "mlcost-cur1"


def cur1_fields(month_index: int) -> list:
    """Legacy CUR columns vary by month: this company's GPU-memory attribute appears from the second month."""
    return [f for f in FIELDS if f.cur1 and (f.name != "gpuMemory" or month_index >= 1)]


def cur1_csv(values: pl.DataFrame, month_index: int) -> bytes:
    """CSV text (UTF-8) with every value as CUR writes it: ISO dates with Z, plain decimals, '' for none."""
    exprs = []
    for field in cur1_fields(month_index):
        column = pl.col(field.header)
        if field.type == DT:
            column = column.dt.strftime("%Y-%m-%dT%H:%M:%SZ")
        exprs.append(column.alias(field.header))
    return values.select(exprs).write_csv(float_scientific=False, null_value="").encode()


def period_folder(month: Month) -> str:
    """``20260901-20261001``: the legacy CUR's billing-period folder name."""
    return f"{to_datetime(month.start):%Y%m%d}-{to_datetime(month.end):%Y%m%d}"


def _stamp(epoch: int) -> str:
    return f"{to_datetime(epoch):%Y%m%dT%H%M%S}.000Z"


def write_cur1_delivery(
    root: Path,
    month: Month,
    values: pl.DataFrame,
    month_index: int,
    *,
    assembly_id: str,
    write_manifest: bool = True,
) -> dict:
    """Write ``<report>/<period>/<assemblyId>/<report>-1.csv.gz`` and (unless stale) the manifest over it."""
    folder = root / REPORT_NAME / period_folder(month)
    (folder / assembly_id).mkdir(parents=True, exist_ok=True)
    key = f"cur1/{REPORT_NAME}/{period_folder(month)}/{assembly_id}/{REPORT_NAME}-1.csv.gz"
    # mtime=0 keeps the gzip bytes identical from run to run.
    (folder / assembly_id / f"{REPORT_NAME}-1.csv.gz").write_bytes(
        gzip.compress(cur1_csv(values, month_index), compresslevel=6, mtime=0)
    )
    manifest = {
        "assemblyId": assembly_id,
        "account": PAYER_ACCOUNT,
        "columns": [
            {"category": f.category, "name": f.name, "type": f.type} for f in cur1_fields(month_index)
        ],
        "charset": "UTF-8",
        "compression": "GZIP",
        "contentType": "text/csv",
        "reportId": "7d3f0c1e9a5b4c2d8e6f1a0b9c8d7e6f5a4b3c2d1e0f9a8b7c6d5e4f3a2b1c0d",
        "reportName": REPORT_NAME,
        "billingPeriod": {"start": _stamp(month.start), "end": _stamp(month.end)},
        "bucket": BUCKET,
        "reportKeys": [key],
        "additionalArtifactKeys": [],
    }
    if write_manifest:
        (folder / f"{REPORT_NAME}-Manifest.json").write_text(json.dumps(manifest, indent=2) + "\n")
    return manifest
