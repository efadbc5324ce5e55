"""FOCUS 1.2 CSV, as AWS's FOCUS export writes it: covered usage billed at 0, no negation lines."""

from __future__ import annotations

import json
from pathlib import Path

import polars as pl

from .company import (
    ACCOUNT_NAMES,
    CURRENCY,
    MODEL,
    PAYER_ACCOUNT,
    PAYER_NAME,
    REGION_NAMES,
    TEAM,
    WORKLOAD_TYPE,
)
from .lines import sku_column
from .periods import Month, iso_z

FOCUS_COLUMNS = [
    "AvailabilityZone",
    "BilledCost",
    "BillingAccountId",
    "BillingAccountName",
    "BillingAccountType",
    "BillingCurrency",
    "BillingPeriodEnd",
    "BillingPeriodStart",
    "CapacityReservationId",
    "CapacityReservationStatus",
    "ChargeCategory",
    "ChargeClass",
    "ChargeDescription",
    "ChargeFrequency",
    "ChargePeriodEnd",
    "ChargePeriodStart",
    "CommitmentDiscountCategory",
    "CommitmentDiscountId",
    "CommitmentDiscountName",
    "CommitmentDiscountQuantity",
    "CommitmentDiscountStatus",
    "CommitmentDiscountType",
    "CommitmentDiscountUnit",
    "ConsumedQuantity",
    "ConsumedUnit",
    "ContractedCost",
    "ContractedUnitPrice",
    "EffectiveCost",
    "InvoiceId",
    "InvoiceIssuerName",
    "ListCost",
    "ListUnitPrice",
    "PricingCategory",
    "PricingCurrency",
    "PricingCurrencyContractedUnitPrice",
    "PricingCurrencyEffectiveCost",
    "PricingCurrencyListUnitPrice",
    "PricingQuantity",
    "PricingUnit",
    "ProviderName",
    "PublisherName",
    "RegionId",
    "RegionName",
    "ResourceId",
    "ResourceName",
    "ResourceType",
    "ServiceCategory",
    "ServiceName",
    "ServiceSubcategory",
    "SkuId",
    "SkuMeter",
    "SkuPriceDetails",
    "SkuPriceId",
    "SubAccountId",
    "SubAccountName",
    "SubAccountType",
    "Tags",
]
AWS_EXTRA_COLUMNS = ["x_InstanceType", "x_LineItemType", "x_Operation", "x_ServiceCode", "x_UsageType"]
assert len(FOCUS_COLUMNS) == 57

_CHARGE_CATEGORY = {
    "Usage": "Usage",
    "DiscountedUsage": "Usage",
    "SavingsPlanCoveredUsage": "Usage",
    "RIFee": "Purchase",
    "Fee": "Purchase",
    "SavingsPlanRecurringFee": "Purchase",
    "Tax": "Tax",
    "Credit": "Credit",
    "Refund": "Adjustment",
}
_SERVICE_CATEGORY = {
    "AmazonEC2": "Compute",
    "AmazonSageMaker": "AI and Machine Learning",
    "AmazonS3": "Storage",
    "AmazonCloudWatch": "Management and Governance",
    "AWSSupportBusiness": "Other",
    "ComputeSavingsPlans": "Compute",
}
_TAG_NAMES = {"tag_team": TEAM, "tag_model": MODEL, "tag_workload_type": WORKLOAD_TYPE}


def _tags_json(row: dict) -> str | None:
    tags = {_TAG_NAMES[k]: v for k, v in row.items() if v}
    return json.dumps(dict(sorted(tags.items()))) if tags else None


def _null_if_empty(column: str) -> pl.Expr:
    return pl.when(pl.col(column) == "").then(None).otherwise(pl.col(column))


def focus_frame(charges: pl.DataFrame, month: Month) -> pl.DataFrame:
    """FOCUS rows of one month (every charge except the Savings Plan negations)."""
    rows = charges.with_columns(sku_column(charges)).filter(pl.col("line_item_type") != "SavingsPlanNegation")
    lit = pl.col("line_item_type")
    charge_category = lit.replace_strict(_CHARGE_CATEGORY, return_dtype=pl.String)
    is_usage = charge_category == "Usage"
    committed = lit.is_in(["DiscountedUsage", "SavingsPlanCoveredUsage"])
    is_sp, is_ri = pl.col("sp_arn") != "", pl.col("ri_arn") != ""
    list_cost = pl.when(is_usage).then(pl.col("public_cost")).otherwise(pl.col("billed"))
    unit_price = pl.when(is_usage).then(pl.col("public_rate")).otherwise(None)
    frequency = (
        pl.when(is_usage | (lit == "Tax"))
        .then(pl.lit("Usage-Based"))
        .when(lit.is_in(["Credit", "Refund"]) | ((lit == "Fee") & is_ri))
        .then(pl.lit("One-Time"))
        .otherwise(pl.lit("Recurring"))
    )
    tags = rows.select(
        pl.struct(list(_TAG_NAMES)).map_elements(_tags_json, return_dtype=pl.String)
    ).to_series()
    exprs: dict[str, pl.Expr | pl.Series] = {
        "AvailabilityZone": _null_if_empty("az"),
        # AWS's FOCUS export bills covered usage at 0: the commitment's fee carries the invoice amount.
        "BilledCost": pl.when(lit == "SavingsPlanCoveredUsage").then(0.0).otherwise(pl.col("billed")),
        "BillingAccountId": pl.lit(PAYER_ACCOUNT),
        "BillingAccountName": pl.lit(PAYER_NAME),
        "BillingAccountType": pl.lit("Billing Account"),
        "BillingCurrency": pl.lit(CURRENCY),
        "BillingPeriodEnd": pl.lit(iso_z(month.end)),
        "BillingPeriodStart": pl.lit(iso_z(month.start)),
        "CapacityReservationId": pl.lit(None, pl.String),
        "CapacityReservationStatus": pl.lit(None, pl.String),
        "ChargeCategory": charge_category,
        # A charge for an earlier billing period delivered in this one.
        "ChargeClass": pl.when(pl.col("end") <= month.start).then(pl.lit("Correction")).otherwise(None),
        "ChargeDescription": _null_if_empty("description"),
        "ChargeFrequency": frequency,
        "ChargePeriodEnd": pl.from_epoch("end").dt.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "ChargePeriodStart": pl.from_epoch("start").dt.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "CommitmentDiscountCategory": pl.when(is_sp).then(pl.lit("Spend")).when(is_ri).then(pl.lit("Usage")),
        "CommitmentDiscountId": pl.when(is_sp).then(pl.col("sp_arn")).when(is_ri).then(pl.col("ri_arn")),
        "CommitmentDiscountName": pl.lit(None, pl.String),
        "CommitmentDiscountQuantity": pl.when(committed & is_sp)
        .then(pl.col("sp_effective_cost"))
        .when(committed & is_ri)
        .then(pl.col("usage_amount")),
        "CommitmentDiscountStatus": pl.when(committed).then(pl.lit("Used")),
        "CommitmentDiscountType": pl.when(is_sp)
        .then(pl.lit("Savings Plan"))
        .when(is_ri)
        .then(pl.lit("Reserved Instance")),
        "CommitmentDiscountUnit": pl.when(committed & is_sp)
        .then(pl.lit(CURRENCY))
        .when(committed & is_ri)
        .then(pl.lit("Hours")),
        "ConsumedQuantity": pl.when(is_usage).then(pl.col("usage_amount")),
        "ConsumedUnit": pl.when(is_usage).then(pl.col("pricing_unit")),
        "ContractedCost": list_cost,
        "ContractedUnitPrice": unit_price,
        "EffectiveCost": pl.col("effective"),
        "InvoiceId": pl.lit(None, pl.String),
        "InvoiceIssuerName": pl.lit("Amazon Web Services, Inc."),
        "ListCost": list_cost,
        "ListUnitPrice": unit_price,
        "PricingCategory": pl.when(committed)
        .then(pl.lit("Committed"))
        .when(is_usage & (pl.col("pricing_term") == "Spot"))
        .then(pl.lit("Dynamic"))
        .when(is_usage)
        .then(pl.lit("Standard")),
        "PricingCurrency": pl.lit(CURRENCY),
        "PricingCurrencyContractedUnitPrice": unit_price,
        "PricingCurrencyEffectiveCost": pl.col("effective"),
        "PricingCurrencyListUnitPrice": unit_price,
        "PricingQuantity": pl.when(pl.col("usage_amount") != 0).then(pl.col("usage_amount")),
        "PricingUnit": _null_if_empty("pricing_unit"),
        "ProviderName": pl.lit("AWS"),
        "PublisherName": pl.lit("Amazon Web Services, Inc."),
        "RegionId": _null_if_empty("region"),
        "RegionName": pl.col("region").replace_strict(REGION_NAMES, default=None),
        "ResourceId": _null_if_empty("resource_id"),
        "ResourceName": pl.lit(None, pl.String),
        "ResourceType": pl.lit(None, pl.String),
        "ServiceCategory": pl.col("product_code").replace_strict(_SERVICE_CATEGORY, default="Other"),
        "ServiceName": pl.col("product_name"),
        "ServiceSubcategory": pl.lit(None, pl.String),
        "SkuId": _null_if_empty("sku"),
        "SkuMeter": _null_if_empty("usage_type"),
        "SkuPriceDetails": pl.lit(None, pl.String),
        "SkuPriceId": pl.when(pl.col("sku") != "").then(pl.col("sku") + "." + pl.col("pricing_term")),
        "SubAccountId": pl.col("account_id"),
        "SubAccountName": pl.col("account_id").replace_strict(ACCOUNT_NAMES, default=None),
        "SubAccountType": pl.lit("AWS Account"),
        "Tags": tags,
        "x_InstanceType": _null_if_empty("instance_type"),
        "x_LineItemType": pl.col("line_item_type"),
        "x_Operation": _null_if_empty("operation"),
        "x_ServiceCode": pl.col("product_code"),
        "x_UsageType": _null_if_empty("usage_type"),
    }
    assert list(exprs) == FOCUS_COLUMNS + AWS_EXTRA_COLUMNS
    return rows.select(**exprs)


def write_focus_month(root: Path, month: Month, frame: pl.DataFrame) -> Path:
    """``focus/focus-YYYY-MM.csv``; nulls are empty cells, numbers plain decimals."""
    root.mkdir(parents=True, exist_ok=True)
    path = root / f"focus-{month.label}.csv"
    frame.write_csv(path, float_scientific=False, null_value="")
    return path
