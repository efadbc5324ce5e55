"""The straightforward pandas version of ingestion and attribution, as a data team would first write it.

It is the comparison point for the DuckDB pipeline in docs/benchmarks.md: read the CUR 2.0 Parquet with
pandas, compute effective cost with np.select over the line item types, pull the workload tags out of the tag
map, classify with a few str.contains rules (the shipped rules, as far as the benchmark's month needs them),
and sum per day, category and workload. No manifests, validation, partitions, atomic publishing or restatement
history: it does less than the pipeline, so it is a lower bound on a pandas implementation's cost.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

COLUMNS = [
    "bill_billing_period_start_date",
    "bill_payer_account_id",
    "line_item_usage_account_id",
    "line_item_line_item_type",
    "line_item_usage_start_date",
    "line_item_usage_end_date",
    "line_item_product_code",
    "line_item_usage_type",
    "line_item_operation",
    "line_item_resource_id",
    "line_item_usage_amount",
    "line_item_unblended_cost",
    "line_item_currency_code",
    "product_region_code",
    "product_instance_type",
    "product_product_family",
    "pricing_public_on_demand_cost",
    "pricing_unit",
    "reservation_effective_cost",
    "reservation_unused_amortized_upfront_fee_for_billing_period",
    "reservation_unused_recurring_fee",
    "savings_plan_savings_plan_effective_cost",
    "savings_plan_total_commitment_to_date",
    "savings_plan_used_commitment",
    "resource_tags",
]
SHARED_TYPES = ["Tax", "Credit", "Refund", "RIFee", "SavingsPlanRecurringFee", "SavingsPlanUpfrontFee", "Fee"]


def ingest(files: list[Path], out: Path) -> pd.DataFrame:
    """Read the export, add effective cost, usage date and workload tags, write line items; return them."""
    df = pd.concat((pd.read_parquet(f, columns=COLUMNS) for f in files), ignore_index=True)
    t = df["line_item_line_item_type"]
    df["effective_cost"] = np.select(
        [
            t == "SavingsPlanCoveredUsage",
            t == "SavingsPlanNegation",
            t == "SavingsPlanUpfrontFee",
            t == "SavingsPlanRecurringFee",
            t == "DiscountedUsage",
            t == "RIFee",
        ],
        [
            df["savings_plan_savings_plan_effective_cost"].fillna(0),
            0.0,
            0.0,
            df["savings_plan_total_commitment_to_date"].fillna(0)
            - df["savings_plan_used_commitment"].fillna(0),
            df["reservation_effective_cost"].fillna(0),
            df["reservation_unused_amortized_upfront_fee_for_billing_period"].fillna(0)
            + df["reservation_unused_recurring_fee"].fillna(0),
        ],
        default=df["line_item_unblended_cost"].fillna(0),
    )
    df["usage_date"] = df["line_item_usage_start_date"].dt.floor("D")
    # The tag map arrives as a list of (key, value) pairs per row: one dict per row, the usual way.
    tags = df.pop("resource_tags").map(dict)
    for key in ("user_model", "user_team", "user_workload_type"):
        df[key] = tags.map(lambda d, k=key: d.get(k) or "")
    df.to_parquet(out, compression="zstd", index=False)
    return df


def attribute(df: pd.DataFrame, out: Path) -> pd.DataFrame:
    """Category by a few str.contains rules, workload from the model/team tags, summed per day; write it."""
    usage_type = df["line_item_usage_type"].fillna("")
    workload_type = df["user_workload_type"]
    compute = usage_type.str.contains("BoxUsage|SpotUsage|DedicatedUsage|HeavyUsage", regex=True)
    df["category"] = np.select(
        [
            df["line_item_line_item_type"].isin(SHARED_TYPES),
            usage_type.str.contains("DataTransfer", regex=False),
            usage_type.str.contains("TimedStorage", regex=False)
            | (df["line_item_product_code"] == "AmazonS3"),
            compute & workload_type.str.lower().str.startswith("train"),
            compute & workload_type.str.lower().str.contains("^(?:infer|serv)", regex=True),
        ],
        ["shared", "egress", "storage", "training", "inference"],
        default="other",
    )
    workload = df["user_model"].where(df["user_model"] != "", df["user_team"])
    df["workload"] = workload.where(workload != "", "unattributed")
    daily = (
        df.groupby(["usage_date", "category", "workload"], as_index=False)[
            ["line_item_unblended_cost", "effective_cost"]
        ]
        .sum()
        .rename(columns={"line_item_unblended_cost": "billed_cost"})
    )
    daily.to_parquet(out, compression="zstd", index=False)
    return daily
