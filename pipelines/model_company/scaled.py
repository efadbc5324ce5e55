"""A large synthetic month of CUR 2.0 Parquet for benchmarks, built in vectorized chunks.

Rows are drawn per chunk (numpy), turned into Arrow arrays and appended as row groups with
``pyarrow.parquet.ParquetWriter``, so memory stays at one chunk whatever the row count.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from .answers import money
from .company import (
    ACCOUNT_NAMES,
    BUCKET,
    CURRENCY,
    INSTANCE_TYPES,
    PAYER_ACCOUNT,
    PAYER_NAME,
    PROD_ACCOUNT,
    RESEARCH_ACCOUNT,
)
from .cur2 import EXPORT_NAME, cur2_schema, string_map
from .ids import hex_id, line_item_ids, stream, uuid4
from .periods import DAY, HOUR, iso_z, parse_month

if TYPE_CHECKING:
    from pipelines.progress import Progress

CHUNK_ROWS = 1 << 18
ROWS_PER_FILE = 4_000_000
_TYPES = [
    "p4d.24xlarge",
    "p5.48xlarge",
    "g5.xlarge",
    "g5.12xlarge",
    "g6.xlarge",
    "m6i.2xlarge",
    "c6i.4xlarge",
]
_TYPE_WEIGHTS = np.array([0.04, 0.02, 0.2, 0.08, 0.2, 0.3, 0.16])
_TEAMS = ["nlp", "vision", "search", "risk", "data", ""]
_MODELS = ["support-llm", "vision-detector", "text-embedder", "fraud-scorer", "", ""]
_WORKLOAD_TYPES = ["training", "training", "inference", "inference", "", ""]
# kind: (line item type, share of rows). Covered and negation rows come in pairs.
_KINDS = ["Usage", "Storage", "Transfer", "SavingsPlanCoveredUsage", "SavingsPlanNegation", "DiscountedUsage"]
_SHARES = np.array([0.58, 0.14, 0.08, 0.08, 0.08, 0.04])


def _dict(indices: np.ndarray, values: list[str]) -> pa.Array:
    return pa.DictionaryArray.from_arrays(pa.array(indices.astype(np.int32)), pa.array(values)).cast(
        pa.string()
    )


def generate_scaled_month(
    out_dir: Path, *, lines: int, month: str = "2026-10", seed: int = 7, progress: Progress | None = None
) -> dict:
    """Write ``lines`` rows of CUR 2.0 for ``month`` under ``out_dir/cur2``; write and return the totals.

    ``progress`` hears of each Parquet file as a step (its rows so far, chunk by chunk).
    """
    if lines < 2:
        raise ValueError("lines must be at least 2")
    out_dir = Path(out_dir)
    period = parse_month(month)
    rng = stream(seed, f"scaled/{month}")
    n_resources = int(min(200_000, max(50, lines // 200)))
    resource_ids = [f"i-0{hex_id(rng, 16)}" for _ in range(n_resources)]
    res_type = rng.choice(len(_TYPES), size=n_resources, p=_TYPE_WEIGHTS)
    res_team = rng.integers(0, len(_TEAMS), size=n_resources)
    res_account = rng.integers(0, 2, size=n_resources)
    od_rates = np.array([INSTANCE_TYPES[t].on_demand_rate for t in _TYPES])
    gpus = [str(INSTANCE_TYPES[t].gpus) if INSTANCE_TYPES[t].gpus else "" for t in _TYPES]
    sp_arn = f"arn:aws:savingsplans::{RESEARCH_ACCOUNT}:savingsplan/{uuid4(rng)}"
    ri_arn = f"arn:aws:ec2:us-east-1:{RESEARCH_ACCOUNT}:reserved-instances/{uuid4(rng)}"
    hour_intervals = [
        f"{iso_z(period.start + h * HOUR)}/{iso_z(period.start + (h + 1) * HOUR)}"
        for h in range(period.hours)
    ]
    day_intervals = [
        f"{iso_z(period.start + d * DAY)}/{iso_z(period.start + (d + 1) * DAY)}" for d in range(period.days)
    ]
    intervals = hour_intervals + day_intervals

    schema = cur2_schema()
    partition = f"BILLING_PERIOD={period.label}"
    data_dir = out_dir / "cur2" / EXPORT_NAME / "data" / partition
    meta_dir = out_dir / "cur2" / EXPORT_NAME / "metadata" / partition
    data_dir.mkdir(parents=True, exist_ok=True)
    meta_dir.mkdir(parents=True, exist_ok=True)
    for old in data_dir.glob("*.parquet"):
        old.unlink()

    billed_sums: list[float] = []
    effective_sums: list[float] = []
    files: list[str] = []
    writer: pq.ParquetWriter | None = None
    rows_in_file = 0
    done = 0
    chunk_no = 0
    try:
        while done < lines:
            m = min(CHUNK_ROWS, lines - done)
            crng = stream(seed, f"scaled/{month}/chunk/{chunk_no}")
            table, billed, effective = _chunk(
                crng,
                m,
                period,
                schema,
                resource_ids,
                res_type,
                res_team,
                res_account,
                od_rates,
                gpus,
                sp_arn,
                ri_arn,
                intervals,
            )
            if writer is None or rows_in_file >= ROWS_PER_FILE:
                if writer is not None:
                    writer.close()
                    if progress is not None:
                        progress.finish(files[-1], rows=rows_in_file)
                name = f"{EXPORT_NAME}-{len(files) + 1:05d}.snappy.parquet"
                files.append(name)
                writer = pq.ParquetWriter(data_dir / name, schema, compression="snappy")
                rows_in_file = 0
                if progress is not None:
                    total = math.ceil(lines / ROWS_PER_FILE)
                    progress.start(name, f"fixtures {period.label}: file {len(files)} of {total} ({name})")
            writer.write_table(table, row_group_size=m)
            billed_sums.append(math.fsum(billed.tolist()))
            effective_sums.append(math.fsum(effective.tolist()))
            rows_in_file += m
            done += m
            chunk_no += 1
            if progress is not None:
                progress.rows(files[-1], rows_in_file)
    finally:
        if writer is not None:
            writer.close()
    if progress is not None and files:
        progress.finish(files[-1], rows=rows_in_file)

    execution_id = uuid4(rng)
    manifest = {
        "executionId": execution_id,
        "exportArn": f"arn:aws:bcm-data-exports:us-east-1:{PAYER_ACCOUNT}:export/{EXPORT_NAME}-4f1c2b9e",
        "exportName": EXPORT_NAME,
        "billingPeriod": {"start": iso_z(period.start), "end": iso_z(period.end)},
        "bucket": BUCKET,
        "deliveryTimestamp": iso_z(period.end + DAY + 6 * HOUR),
        "dataFiles": [f"s3://{BUCKET}/cur2/{EXPORT_NAME}/data/{partition}/{f}" for f in files],
        "columns": [{"name": f.name, "type": str(f.type)} for f in schema],
    }
    (meta_dir / f"{EXPORT_NAME}-Manifest.json").write_text(json.dumps(manifest, indent=2) + "\n")
    answers = {
        "generator": {"kind": "scaled-month", "seed": seed, "month": period.label},
        "billing_periods": {
            period.label: {
                "cur2": {
                    "lines": lines,
                    "billed_cost": money(math.fsum(billed_sums)),
                    "effective_cost": money(math.fsum(effective_sums)),
                    "currency": CURRENCY,
                    "files": [f"cur2/{EXPORT_NAME}/data/{partition}/{f}" for f in files],
                    "execution_id": execution_id,
                }
            }
        },
    }
    (out_dir / "answers.json").write_text(json.dumps(answers, indent=2) + "\n")
    return answers


def _chunk(
    rng,
    m,
    period,
    schema,
    resource_ids,
    res_type,
    res_team,
    res_account,
    od_rates,
    gpus,
    sp_arn,
    ri_arn,
    intervals,
):
    """One chunk of ``m`` rows as an Arrow table, with its billed and effective costs."""
    counts = np.floor(_SHARES * m).astype(int)
    counts[4] = counts[3]  # one negation per covered line
    counts[0] += m - counts.sum()
    kind = np.repeat(np.arange(len(_KINDS)), counts)
    res = rng.integers(0, len(resource_ids), size=m)
    n_cov = counts[3]
    cov_rows = np.flatnonzero(kind == 3)
    neg_rows = np.flatnonzero(kind == 4)
    res[neg_rows] = res[cov_rows]
    hourly = np.isin(kind, [0, 3, 4, 5])
    hour = rng.integers(0, period.hours, size=m)
    hour[neg_rows] = hour[cov_rows]
    day = rng.integers(0, period.days, size=m)
    start = np.where(hourly, period.start + hour * HOUR, period.start + day * DAY).astype(np.int64)
    end = start + np.where(hourly, HOUR, DAY)
    itype = res_type[res]
    od = od_rates[itype]

    amount = np.ones(m)
    rate = od.copy()
    storage = kind == 1
    transfer = kind == 2
    amount[storage] = np.round(rng.uniform(1, 5000, size=int(storage.sum())) / period.days, 10)
    rate[storage] = 0.023
    amount[transfer] = np.round(rng.uniform(0.1, 500, size=int(transfer.sum())), 10)
    rate[transfer] = 0.09
    covered_share = np.round(rng.uniform(0.3, 1.0, size=n_cov), 10)
    amount[cov_rows] = covered_share
    amount[neg_rows] = covered_share
    billed = np.round(amount * rate, 10)
    billed[neg_rows] = -billed[cov_rows]
    public_cost = billed.copy()
    public_cost[neg_rows] = 0.0
    effective = billed.copy()
    sp_effective = np.zeros(m)
    sp_effective[cov_rows] = np.round(amount[cov_rows] * od[cov_rows] * 0.72, 10)
    effective[cov_rows] = sp_effective[cov_rows]
    effective[neg_rows] = 0.0
    disc = kind == 5
    ri_effective = np.zeros(m)
    ri_effective[disc] = np.round(amount[disc] * od[disc] * 0.6, 10)
    public_cost[disc] = np.round(amount[disc] * od[disc], 10)
    billed[disc] = 0.0
    effective[disc] = ri_effective[disc]
    shown_rate = np.where(disc, 0.0, rate)
    shown_rate[neg_rows] = -rate[neg_rows]
    unique_rates, rate_index = np.unique(shown_rate, return_inverse=True)
    rate_text = _dict(rate_index, [np.format_float_positional(r, trim="-") for r in unique_rates])

    usage_type_values = [f"BoxUsage:{t}" for t in _TYPES] + ["TimedStorage-ByteHrs", "DataTransfer-Out-Bytes"]
    usage_type = np.where(storage, len(_TYPES), np.where(transfer, len(_TYPES) + 1, itype))
    line_types = ["Usage", "SavingsPlanCoveredUsage", "SavingsPlanNegation", "DiscountedUsage"]
    lt = np.select([kind == 3, kind == 4, kind == 5], [1, 2, 3], 0)
    families = ["Compute Instance", "Storage", "Data Transfer"]
    family = np.select([storage, transfer], [1, 2], 0)
    codes = ["AmazonEC2", "AmazonS3"]
    code = storage.astype(int)
    team = res_team[res]
    account = res_account[res]
    ts = pa.timestamp("ms", tz="UTC")
    compute = ~(storage | transfer)
    interval_index = np.where(hourly, hour, period.hours + day)

    cols = {
        "bill_bill_type": pa.repeat("Anniversary", m),
        "bill_billing_entity": pa.repeat("AWS", m),
        "bill_billing_period_end_date": pa.array(np.full(m, period.end * 1000), type=ts),
        "bill_billing_period_start_date": pa.array(np.full(m, period.start * 1000), type=ts),
        "bill_invoice_id": pa.repeat("", m),
        "bill_invoicing_entity": pa.repeat("Amazon Web Services, Inc.", m),
        "bill_payer_account_id": pa.repeat(PAYER_ACCOUNT, m),
        "bill_payer_account_name": pa.repeat(PAYER_NAME, m),
        "identity_line_item_id": pa.array(line_item_ids(rng, m)).cast(pa.string()),
        "identity_time_interval": _dict(interval_index, intervals),
        "line_item_availability_zone": pa.repeat("us-east-1a", m),
        "line_item_blended_cost": pa.array(billed),
        "line_item_blended_rate": rate_text,
        "line_item_currency_code": pa.repeat(CURRENCY, m),
        "line_item_legal_entity": pa.repeat("Amazon Web Services, Inc.", m),
        "line_item_line_item_description": pa.repeat("synthetic benchmark line", m),
        "line_item_line_item_type": _dict(lt, line_types),
        "line_item_operation": _dict(family, ["RunInstances", "StandardStorage", "RunInstances"]),
        "line_item_product_code": _dict(code, codes),
        "line_item_resource_id": _dict(res, resource_ids),
        "line_item_unblended_cost": pa.array(billed),
        "line_item_unblended_rate": rate_text,
        "line_item_usage_account_id": _dict(account, [PROD_ACCOUNT, RESEARCH_ACCOUNT]),
        "line_item_usage_account_name": _dict(
            account, [ACCOUNT_NAMES[PROD_ACCOUNT], ACCOUNT_NAMES[RESEARCH_ACCOUNT]]
        ),
        "line_item_usage_amount": pa.array(amount),
        "line_item_usage_end_date": pa.array(end * 1000, type=ts),
        "line_item_usage_start_date": pa.array(start * 1000, type=ts),
        "line_item_usage_type": _dict(usage_type, usage_type_values),
        "pricing_currency": pa.repeat(CURRENCY, m),
        "pricing_public_on_demand_cost": pa.array(public_cost),
        "pricing_term": _dict(np.where(disc, 1, 0), ["OnDemand", "Reserved"]),
        "pricing_unit": _dict(family, ["Hrs", "GB-Mo", "GB"]),
        "product_instance_type": _dict(np.where(compute, itype, len(_TYPES)), _TYPES + [""]),
        "product_product_family": _dict(family, families),
        "product_region_code": pa.repeat("us-east-1", m),
        "product_servicecode": _dict(np.where(transfer, 2, code), codes + ["AWSDataTransfer"]),
        "product_usagetype": _dict(usage_type, usage_type_values),
        "reservation_effective_cost": pa.array(ri_effective),
        "reservation_reservation_a_r_n": _dict(disc.astype(int), ["", ri_arn]),
        "savings_plan_savings_plan_a_r_n": _dict(np.isin(kind, [3, 4]).astype(int), ["", sp_arn]),
        "savings_plan_savings_plan_effective_cost": pa.array(sp_effective),
        "product": string_map(
            {
                "gpu": _dict(np.where(compute, itype, len(_TYPES)), gpus + [""]),
                "region": pa.repeat("us-east-1", m),
            },
            m,
        ),
        "resource_tags": string_map(
            {
                "user_team": _dict(team, _TEAMS),
                "user_model": _dict(team, _MODELS),
                "user_workload_type": _dict(team, _WORKLOAD_TYPES),
            },
            m,
        ),
        "cost_category": string_map({}, m),
        "discount": string_map({}, m),
    }
    arrays = []
    for field in schema:
        if field.name in cols:
            arrays.append(cols[field.name].cast(field.type))
        elif pa.types.is_floating(field.type):
            arrays.append(pa.array(np.zeros(m)))
        elif pa.types.is_string(field.type):
            arrays.append(pa.repeat("", m))
        else:
            raise AssertionError(f"no value for {field.name}")
    return pa.table(arrays, schema=schema), billed, effective
