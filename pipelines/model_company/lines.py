"""The neutral line table every exporter reads: its columns, and helpers to make lines of it."""

from __future__ import annotations

import hashlib

import numpy as np
import polars as pl

from .company import MODEL, REGION_PREFIX, TEAM, WORKLOAD_TYPE, Resource, planted_workload
from .periods import DAY, Month

STRING_COLUMNS = [
    "billing_period",
    "line_item_type",
    "account_id",
    "product_code",
    "service_code",
    "product_name",
    "usage_type",
    "operation",
    "resource_id",
    "region",
    "az",
    "instance_type",
    "product_family",
    "from_region",
    "to_region",
    "from_location",
    "to_location",
    "pricing_unit",
    "description",
    "pricing_term",
    "purchase_option",
    "offering_class",
    "lease_length",
    "tax_type",
    "ri_arn",
    "sp_arn",
    "tag_team",
    "tag_model",
    "tag_workload_type",
    "category",
    "workload",
]
FLOAT_COLUMNS = [
    "usage_amount",
    "rate",
    "public_rate",
    "billed",
    "effective",
    "public_cost",
    "ri_effective_cost",
    "ri_amortized_upfront_cost_for_usage",
    "ri_recurring_fee_for_usage",
    "ri_amortized_upfront_fee_for_billing_period",
    "ri_unused_amortized_upfront_fee_for_billing_period",
    "ri_unused_recurring_fee",
    "ri_unused_quantity",
    "ri_upfront_value",
    "sp_effective_cost",
    "sp_rate",
    "sp_total_commitment_to_date",
    "sp_used_commitment",
    "sp_recurring_commitment_for_billing_period",
]
INT_COLUMNS = ["start", "end", "gpu_count"]
SCHEMA = (
    {c: pl.String for c in STRING_COLUMNS}
    | {c: pl.Float64 for c in FLOAT_COLUMNS}
    | {c: pl.Int64 for c in INT_COLUMNS}
)

PRODUCT_NAMES = {
    "AmazonEC2": "Amazon Elastic Compute Cloud",
    "AmazonSageMaker": "Amazon SageMaker",
    "AmazonS3": "Amazon Simple Storage Service",
    "AmazonCloudWatch": "AmazonCloudWatch",
    "AWSSupportBusiness": "AWS Support (Business)",
    "ComputeSavingsPlans": "Savings Plans for AWS Compute usage",
}
USAGE_LINE_TYPES = ("Usage", "DiscountedUsage", "SavingsPlanCoveredUsage", "SavingsPlanNegation")


def r10(x):
    """Round money and quantities as CUR writes them (10 decimals)."""
    return np.round(x, 10)


def day_starts(month: Month) -> np.ndarray:
    """Epoch seconds of each UTC midnight in the month."""
    return month.start + np.arange(month.days, dtype=np.int64) * DAY


def sku(*parts: str) -> str:
    """A stable 16-character SKU for a price (same usage type and region give the same SKU)."""
    return hashlib.sha1("|".join(parts).encode()).hexdigest()[:16].upper()


def sku_column(charges: pl.DataFrame) -> pl.Series:
    """The SKU of each line (empty for lines with no usage type, such as tax and credits)."""
    keys = pl.concat_str(["usage_type", "region", "operation"], separator="|")
    uniques = charges.select(keys.alias("k"))["k"].unique().to_list()
    table = {k: (sku(*k.split("|")) if not k.startswith("|") else "") for k in uniques}
    return charges.select(keys.replace_strict(table, return_dtype=pl.String).alias("sku"))["sku"]


def prefixed(region: str, usage: str, *, always: bool = False) -> str:
    """The usage type as AWS writes it in ``region``: us-east-1 EC2/S3 ones carry no prefix, others do."""
    if region == "us-east-1" and not always:
        return usage
    return f"{REGION_PREFIX[region]}-{usage}"


class LineTable:
    """Collects column chunks (scalars broadcast, arrays kept) and turns them into one frame."""

    def __init__(self) -> None:
        self.parts: list[tuple[int, dict]] = []

    def add(self, n: int, **cols) -> None:
        """Add ``n`` lines; each column is a scalar (same on every line) or an array of ``n`` values."""
        if n:
            unknown = set(cols) - set(SCHEMA)
            if unknown:
                raise ValueError(f"unknown charge columns {sorted(unknown)}")
            self.parts.append((n, cols))

    def frame(self) -> pl.DataFrame:
        """All lines added so far, every column of :data:`SCHEMA` present (missing ones '' or 0)."""
        data = {}
        for column, dtype in SCHEMA.items():
            chunks = []
            for n, cols in self.parts:
                value = cols.get(column)
                if value is None:
                    value = "" if dtype == pl.String else 0
                if np.ndim(value) == 0:
                    chunks.append(np.full(n, value, dtype=object if dtype == pl.String else None))
                else:
                    chunks.append(np.asarray(value, dtype=object if dtype == pl.String else None))
            merged = np.concatenate(chunks) if chunks else np.array([])
            data[column] = pl.Series(column, merged.tolist() if dtype == pl.String else merged, dtype=dtype)
        return pl.DataFrame(data)


def tag_cols(resource: Resource) -> dict:
    """The tag columns of a resource's lines and the workload they plant."""
    return {
        "tag_team": resource.tags.get(TEAM, ""),
        "tag_model": resource.tags.get(MODEL, ""),
        "tag_workload_type": resource.tags.get(WORKLOAD_TYPE, ""),
        "workload": resource.workload,
    }


def add_shared(
    lines: LineTable,
    *,
    account_id,
    product_code,
    line_item_type,
    start,
    end,
    billed,
    effective,
    description,
    resource_id="",
    **extra,
) -> None:
    """One line with no owner (fee, tax, credit, refund): category ``shared``, workload by the usual rule."""
    lines.add(
        1,
        account_id=account_id,
        product_code=product_code,
        service_code=product_code,
        line_item_type=line_item_type,
        start=start,
        end=end,
        billed=billed,
        effective=effective,
        description=description,
        resource_id=resource_id,
        category="shared",
        workload=planted_workload({}, resource_id),
        **extra,
    )
