"""CUR 2.0 (Data Exports) Parquet files and manifests."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import polars as pl
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from .company import BUCKET, PAYER_ACCOUNT
from .cur_fields import (
    COST_CATEGORY_MAP,
    DT,
    FIELDS,
    NUMERIC_TYPES,
    PRODUCT_MAP,
    TAG_MAP,
    TOP,
    Field,
    map_key,
)
from .periods import Month, iso_z

EXPORT_NAME = "mlcost-cur2"
STRING_MAP = pa.map_(pa.string(), pa.string())
_MAPS = {PRODUCT_MAP: "product", TAG_MAP: "resource_tags", COST_CATEGORY_MAP: "cost_category"}


def _arrow_type(field: Field) -> pa.DataType:
    if field.type == DT:
        return pa.timestamp("ms", tz="UTC")
    if field.type in NUMERIC_TYPES:
        return pa.float64()
    return pa.string()


def cur2_schema() -> pa.Schema:
    """The fixed CUR 2.0 column set this company's export has, in AWS's (alphabetical) order."""
    columns = {f.snake: _arrow_type(f) for f in FIELDS if f.cur2 == TOP}
    columns |= {name: STRING_MAP for name in _MAPS.values()}
    columns |= {
        "discount": STRING_MAP,
        "discount_bundled_discount": pa.float64(),
        "discount_total_discount": pa.float64(),
    }
    return pa.schema([pa.field(name, columns[name]) for name in sorted(columns)])


def string_map(columns: dict[str, pa.Array], n: int) -> pa.MapArray:
    """A MAP<VARCHAR,VARCHAR> per row holding each key whose value is not empty (vectorized)."""
    keys = list(columns)
    if not keys:
        return pa.MapArray.from_arrays(
            pa.array(np.zeros(n + 1, dtype=np.int32)), pa.array([], pa.string()), pa.array([], pa.string())
        )
    values = [pc.fill_null(pa.array(columns[k]).cast(pa.string()), "") for k in keys]
    present = np.stack([pc.not_equal(v, "").to_numpy(zero_copy_only=False) for v in values], axis=1)
    offsets = np.zeros(n + 1, dtype=np.int32)
    np.cumsum(present.sum(axis=1), out=offsets[1:])
    rows, key_index = np.nonzero(present)  # row-major, so entries come out grouped by row
    flat_values = pa.concat_arrays(values).take(pa.array(key_index.astype(np.int64) * n + rows))
    flat_keys = pa.DictionaryArray.from_arrays(pa.array(key_index.astype(np.int32)), pa.array(keys)).cast(
        pa.string()
    )
    return pa.MapArray.from_arrays(pa.array(offsets), flat_keys, flat_values)


def cur2_table(values: pl.DataFrame) -> pa.Table:
    """CUR 2.0 table from :func:`cur_fields.cur_values`: snake-case columns, MAPs, 0 and '' for none."""
    schema = cur2_schema()
    n = values.height
    columns: dict[str, pa.Array] = {}
    for field in FIELDS:
        if field.cur2 != TOP:
            continue
        series = values[field.header]
        if field.type in NUMERIC_TYPES:
            series = series.fill_null(0.0)
        elif series.dtype == pl.String:
            series = series.fill_null("")
        columns[field.snake] = series.to_arrow().cast(schema.field(field.snake).type)
    for where, name in _MAPS.items():
        parts = {map_key(f): values[f.header].to_arrow() for f in FIELDS if f.cur2 == where}
        columns[name] = string_map(parts, n)
    columns["discount"] = string_map({}, n)
    columns["discount_bundled_discount"] = pa.array(np.zeros(n))
    columns["discount_total_discount"] = pa.array(np.zeros(n))
    return pa.table([columns[f.name] for f in schema], schema=schema)


def write_cur2_delivery(
    root: Path,
    month: Month,
    table: pa.Table,
    *,
    execution_id: str,
    delivered_at: int,
    files: int = 2,
    s3_prefix: str = "cur2",
) -> dict:
    """Write one month's delivery (data files + manifest) under ``root``; returns the manifest."""
    partition = f"BILLING_PERIOD={month.label}"
    data_dir = root / EXPORT_NAME / "data" / partition
    meta_dir = root / EXPORT_NAME / "metadata" / partition
    data_dir.mkdir(parents=True, exist_ok=True)
    meta_dir.mkdir(parents=True, exist_ok=True)
    bounds = np.linspace(0, table.num_rows, files + 1).astype(int)
    uris = []
    for i in range(files):
        name = f"{EXPORT_NAME}-{i + 1:05d}.snappy.parquet"
        pq.write_table(
            table.slice(bounds[i], bounds[i + 1] - bounds[i]), data_dir / name, compression="snappy"
        )
        uris.append(f"s3://{BUCKET}/{s3_prefix}/{EXPORT_NAME}/data/{partition}/{name}")
    manifest = {
        "executionId": execution_id,
        "exportArn": f"arn:aws:bcm-data-exports:us-east-1:{PAYER_ACCOUNT}:export/{EXPORT_NAME}-4f1c2b9e",
        "exportName": EXPORT_NAME,
        "billingPeriod": {"start": iso_z(month.start), "end": iso_z(month.end)},
        "bucket": BUCKET,
        "deliveryTimestamp": iso_z(delivered_at),
        "dataFiles": uris,
        "columns": [{"name": f.name, "type": str(f.type)} for f in table.schema],
    }
    (meta_dir / f"{EXPORT_NAME}-Manifest.json").write_text(json.dumps(manifest, indent=2) + "\n")
    return manifest
