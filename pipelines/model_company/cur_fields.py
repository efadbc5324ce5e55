"""The CUR fields of each charge, shared by the legacy CUR (CSV) and CUR 2.0 (Parquet) exporters.

Fields are named as the legacy CUR names them (``lineItem/UsageStartDate``); CUR 2.0 takes the snake-case
of the same name (``line_item_usage_start_date``) or files the field under a MAP column.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np
import polars as pl

from .company import ACCOUNT_NAMES, CURRENCY, INSTANCE_TYPES, PAYER_ACCOUNT, PAYER_NAME, REGION_NAMES, Company
from .ids import line_item_ids, stream
from .lines import sku_column
from .periods import Month

# Where a field goes in CUR 2.0: a top-level column or a key of one of its MAP columns.
TOP, PRODUCT_MAP, TAG_MAP, COST_CATEGORY_MAP = "top", "product", "resource_tags", "cost_category"


@dataclass(frozen=True)
class Field:
    """One CUR field: its legacy name and manifest type, and where CUR 2.0 keeps it."""

    category: str
    name: str
    type: str  # the legacy manifest's type: String, DateTime, BigDecimal, OptionalBigDecimal, ...
    cur2: str = TOP
    cur1: bool = True

    @property
    def header(self) -> str:
        return f"{self.category}/{self.name}"

    @property
    def snake(self) -> str:
        return snake_case(self.category, self.name)


def snake_case(category: str, name: str) -> str:
    """CUR 2.0's rule: split camelCase at every capital (``ARN`` -> ``a_r_n``); ``:``, ``-`` become ``_``."""
    if category in ("resourceTags", "costCategory"):
        return re.sub(r"[:\-./ ]", "_", name)
    words = re.sub(r"([A-Z])", r"_\1", name).lower().lstrip("_")
    prefix = re.sub(r"([A-Z])", r"_\1", category).lower()
    return f"{prefix}_{words}"


def map_key(field: Field) -> str:
    """Key of a field inside a CUR 2.0 MAP column (product attributes lose their ``product_`` prefix)."""
    if field.category in ("resourceTags", "costCategory"):
        return snake_case(field.category, field.name)
    return re.sub(r"([A-Z])", r"_\1", field.name).lower().lstrip("_")


S, DT, NUM, ONUM, OSTR = "String", "DateTime", "BigDecimal", "OptionalBigDecimal", "OptionalString"

FIELDS = [
    Field("identity", "LineItemId", S),
    Field("identity", "TimeInterval", "Interval"),
    Field("bill", "InvoiceId", S),
    Field("bill", "InvoicingEntity", S),
    Field("bill", "BillingEntity", S),
    Field("bill", "BillType", S),
    Field("bill", "PayerAccountId", S),
    Field("bill", "PayerAccountName", S, cur1=False),
    Field("bill", "BillingPeriodStartDate", DT),
    Field("bill", "BillingPeriodEndDate", DT),
    Field("lineItem", "UsageAccountId", S),
    Field("lineItem", "UsageAccountName", S, cur1=False),
    Field("lineItem", "LineItemType", S),
    Field("lineItem", "UsageStartDate", DT),
    Field("lineItem", "UsageEndDate", DT),
    Field("lineItem", "ProductCode", S),
    Field("lineItem", "UsageType", S),
    Field("lineItem", "Operation", S),
    Field("lineItem", "AvailabilityZone", S),
    Field("lineItem", "ResourceId", S),
    Field("lineItem", "UsageAmount", NUM),
    Field("lineItem", "NormalizationFactor", ONUM),
    Field("lineItem", "NormalizedUsageAmount", ONUM),
    Field("lineItem", "CurrencyCode", S),
    Field("lineItem", "UnblendedRate", S),
    Field("lineItem", "UnblendedCost", NUM),
    Field("lineItem", "BlendedRate", S),
    Field("lineItem", "BlendedCost", NUM),
    Field("lineItem", "LineItemDescription", S),
    Field("lineItem", "TaxType", S),
    Field("lineItem", "LegalEntity", S),
    Field("product", "ProductName", S, PRODUCT_MAP),
    Field("product", "fromLocation", S),
    Field("product", "fromRegionCode", S),
    Field("product", "gpu", S, PRODUCT_MAP),
    Field("product", "gpuMemory", S, PRODUCT_MAP),
    Field("product", "instanceFamily", S),
    Field("product", "instanceType", S),
    Field("product", "location", S),
    Field("product", "memory", S, PRODUCT_MAP),
    Field("product", "operation", S),
    Field("product", "productFamily", S),
    Field("product", "region", S, PRODUCT_MAP),
    Field("product", "regionCode", S),
    Field("product", "servicecode", S),
    Field("product", "sku", S),
    Field("product", "toLocation", S),
    Field("product", "toRegionCode", S),
    Field("product", "usagetype", S),
    Field("product", "vcpu", S, PRODUCT_MAP),
    Field("pricing", "LeaseContractLength", S),
    Field("pricing", "OfferingClass", S),
    Field("pricing", "PurchaseOption", S),
    Field("pricing", "currency", S),
    Field("pricing", "publicOnDemandCost", NUM),
    Field("pricing", "publicOnDemandRate", S),
    Field("pricing", "term", S),
    Field("pricing", "unit", S),
    Field("reservation", "AmortizedUpfrontCostForUsage", ONUM),
    Field("reservation", "AmortizedUpfrontFeeForBillingPeriod", ONUM),
    Field("reservation", "EffectiveCost", ONUM),
    Field("reservation", "EndTime", OSTR),
    Field("reservation", "NumberOfReservations", S),
    Field("reservation", "RecurringFeeForUsage", ONUM),
    Field("reservation", "ReservationARN", S),
    Field("reservation", "StartTime", OSTR),
    Field("reservation", "SubscriptionId", S),
    Field("reservation", "UnusedAmortizedUpfrontFeeForBillingPeriod", ONUM),
    Field("reservation", "UnusedQuantity", ONUM),
    Field("reservation", "UnusedRecurringFee", ONUM),
    Field("reservation", "UpfrontValue", ONUM),
    Field("savingsPlan", "TotalCommitmentToDate", ONUM),
    Field("savingsPlan", "SavingsPlanARN", OSTR),
    Field("savingsPlan", "SavingsPlanRate", ONUM),
    Field("savingsPlan", "UsedCommitment", ONUM),
    Field("savingsPlan", "SavingsPlanEffectiveCost", ONUM),
    Field("savingsPlan", "AmortizedUpfrontCommitmentForBillingPeriod", ONUM),
    Field("savingsPlan", "RecurringCommitmentForBillingPeriod", ONUM),
    Field("savingsPlan", "Region", S),
    Field("savingsPlan", "PurchaseTerm", S),
    Field("savingsPlan", "PaymentOption", S),
    Field("savingsPlan", "EndTime", S),
    Field("savingsPlan", "StartTime", S),
    Field("savingsPlan", "OfferingType", S),
    Field("resourceTags", "user:model", S, TAG_MAP),
    Field("resourceTags", "user:team", S, TAG_MAP),
    Field("resourceTags", "user:workload-type", S, TAG_MAP),
    Field("costCategory", "business-unit", S, COST_CATEGORY_MAP),
]
FIELDS_BY_HEADER = {f.header: f for f in FIELDS}
NUMERIC_TYPES = (NUM, ONUM)


def positional(values: pl.Series) -> pl.Series:
    """Numbers as CUR writes rates: plain decimals, never ``4e-07``, no trailing zeros."""
    uniques = values.unique().to_list()
    text = {v: np.format_float_positional(v, trim="-") for v in uniques if v is not None}
    return values.replace_strict(text, default=None, return_dtype=pl.String)


def _iso(epoch: pl.Expr) -> pl.Expr:
    return pl.from_epoch(epoch, time_unit="s").dt.strftime("%Y-%m-%dT%H:%M:%SZ")


def _ts(epoch: pl.Expr) -> pl.Expr:
    return pl.from_epoch(epoch * 1000, time_unit="ms").dt.replace_time_zone("UTC")


def cur_values(charges: pl.DataFrame, company: Company, month: Month) -> pl.DataFrame:
    """One column per field (named by its legacy header), typed: String, Datetime(ms, UTC) or Float64.

    Optional numbers are null where the line has no reservation / Savings Plan; CUR 2.0 writes them as 0,
    the legacy CSV as an empty cell.
    """
    ids = line_item_ids(stream(company.seed, f"line-item-ids/{month.label}"), charges.height)
    ri, sp = company.reservation, company.savings_plan
    is_ri = pl.col("ri_arn") != ""
    is_sp = pl.col("sp_arn") != ""
    gpu_types = {n: str(t.gpus) for n, t in INSTANCE_TYPES.items() if t.gpus}
    compute = pl.col("product_family").is_in(["Compute Instance", "ML Instance"]) & (
        pl.col("line_item_type") != "RIFee"
    )
    itype = pl.when(compute).then(pl.col("instance_type")).otherwise(pl.lit(""))

    def attr(mapping: dict[str, str]) -> pl.Expr:
        return itype.replace_strict(mapping, default="")

    def optional(column: str, condition: pl.Expr) -> pl.Expr:
        return pl.when(condition).then(pl.col(column)).otherwise(None)

    iso_ri_start, iso_ri_end = _iso(pl.lit(ri.start)), _iso(pl.lit(ri.end))
    exprs: dict[str, pl.Expr | pl.Series] = {
        "identity/LineItemId": pl.Series(ids).cast(pl.String),
        "identity/TimeInterval": _iso(pl.col("start")) + "/" + _iso(pl.col("end")),
        "bill/InvoiceId": pl.lit(""),
        "bill/InvoicingEntity": pl.lit("Amazon Web Services, Inc."),
        "bill/BillingEntity": pl.lit("AWS"),
        "bill/BillType": pl.lit("Anniversary"),
        "bill/PayerAccountId": pl.lit(PAYER_ACCOUNT),
        "bill/PayerAccountName": pl.lit(PAYER_NAME),
        "bill/BillingPeriodStartDate": _ts(pl.lit(month.start)),
        "bill/BillingPeriodEndDate": _ts(pl.lit(month.end)),
        "lineItem/UsageAccountId": pl.col("account_id"),
        "lineItem/UsageAccountName": pl.col("account_id").replace_strict(ACCOUNT_NAMES, default=""),
        "lineItem/LineItemType": pl.col("line_item_type"),
        "lineItem/UsageStartDate": _ts(pl.col("start")),
        "lineItem/UsageEndDate": _ts(pl.col("end")),
        "lineItem/ProductCode": pl.col("product_code"),
        "lineItem/UsageType": pl.col("usage_type"),
        "lineItem/Operation": pl.col("operation"),
        "lineItem/AvailabilityZone": pl.col("az"),
        "lineItem/ResourceId": pl.col("resource_id"),
        "lineItem/UsageAmount": pl.col("usage_amount"),
        "lineItem/NormalizationFactor": pl.lit(None, dtype=pl.Float64),
        "lineItem/NormalizedUsageAmount": pl.lit(None, dtype=pl.Float64),
        "lineItem/CurrencyCode": pl.lit(CURRENCY),
        "lineItem/UnblendedRate": pl.col("rate"),  # formatted below
        "lineItem/UnblendedCost": pl.col("billed"),
        "lineItem/BlendedRate": pl.col("rate"),
        "lineItem/BlendedCost": pl.col("billed"),
        "lineItem/LineItemDescription": pl.col("description"),
        "lineItem/TaxType": pl.col("tax_type"),
        "lineItem/LegalEntity": pl.lit("Amazon Web Services, Inc."),
        "product/ProductName": pl.col("product_name"),
        "product/fromLocation": pl.col("from_location"),
        "product/fromRegionCode": pl.col("from_region"),
        "product/gpu": attr(gpu_types),
        "product/gpuMemory": attr({n: t.gpu_memory for n, t in INSTANCE_TYPES.items() if t.gpu_memory}),
        "product/instanceFamily": pl.when(pl.col("instance_type") != "")
        .then(pl.col("instance_type").str.replace(r"^ml\.", "").str.split(".").list.first())
        .otherwise(pl.lit("")),
        "product/instanceType": pl.col("instance_type"),
        "product/location": pl.col("region").replace_strict(REGION_NAMES, default=""),
        "product/memory": attr({n: t.memory for n, t in INSTANCE_TYPES.items()}),
        "product/operation": pl.col("operation"),
        "product/productFamily": pl.col("product_family"),
        "product/region": pl.col("region"),
        "product/regionCode": pl.col("region"),
        "product/servicecode": pl.col("service_code"),
        "product/sku": sku_column(charges),
        "product/toLocation": pl.col("to_location"),
        "product/toRegionCode": pl.col("to_region"),
        "product/usagetype": pl.col("usage_type"),
        "product/vcpu": attr({n: str(t.vcpu) for n, t in INSTANCE_TYPES.items()}),
        "pricing/LeaseContractLength": pl.col("lease_length"),
        "pricing/OfferingClass": pl.col("offering_class"),
        "pricing/PurchaseOption": pl.col("purchase_option"),
        "pricing/currency": pl.lit(CURRENCY),
        "pricing/publicOnDemandCost": pl.col("public_cost"),
        "pricing/publicOnDemandRate": pl.col("public_rate"),
        "pricing/term": pl.col("pricing_term"),
        "pricing/unit": pl.col("pricing_unit"),
        "reservation/AmortizedUpfrontCostForUsage": optional("ri_amortized_upfront_cost_for_usage", is_ri),
        "reservation/AmortizedUpfrontFeeForBillingPeriod": optional(
            "ri_amortized_upfront_fee_for_billing_period", is_ri
        ),
        "reservation/EffectiveCost": optional("ri_effective_cost", is_ri),
        "reservation/EndTime": pl.when(is_ri).then(iso_ri_end).otherwise(pl.lit("")),
        "reservation/NumberOfReservations": pl.when(is_ri).then(pl.lit("1")).otherwise(pl.lit("")),
        "reservation/RecurringFeeForUsage": optional("ri_recurring_fee_for_usage", is_ri),
        "reservation/ReservationARN": pl.col("ri_arn"),
        "reservation/StartTime": pl.when(is_ri).then(iso_ri_start).otherwise(pl.lit("")),
        "reservation/SubscriptionId": pl.when(is_ri).then(pl.lit(ri.subscription_id)).otherwise(pl.lit("")),
        "reservation/UnusedAmortizedUpfrontFeeForBillingPeriod": optional(
            "ri_unused_amortized_upfront_fee_for_billing_period", is_ri
        ),
        "reservation/UnusedQuantity": optional("ri_unused_quantity", is_ri),
        "reservation/UnusedRecurringFee": optional("ri_unused_recurring_fee", is_ri),
        "reservation/UpfrontValue": optional("ri_upfront_value", is_ri),
        "savingsPlan/TotalCommitmentToDate": optional("sp_total_commitment_to_date", is_sp),
        "savingsPlan/SavingsPlanARN": pl.col("sp_arn"),
        "savingsPlan/SavingsPlanRate": optional("sp_rate", is_sp),
        "savingsPlan/UsedCommitment": optional("sp_used_commitment", is_sp),
        "savingsPlan/SavingsPlanEffectiveCost": optional("sp_effective_cost", is_sp),
        "savingsPlan/AmortizedUpfrontCommitmentForBillingPeriod": pl.when(is_sp).then(0.0).otherwise(None),
        "savingsPlan/RecurringCommitmentForBillingPeriod": optional(
            "sp_recurring_commitment_for_billing_period", is_sp
        ),
        "savingsPlan/Region": pl.when(is_sp).then(pl.col("region")).otherwise(pl.lit("")),
        "savingsPlan/PurchaseTerm": pl.when(is_sp).then(pl.lit("1yr")).otherwise(pl.lit("")),
        "savingsPlan/PaymentOption": pl.when(is_sp).then(pl.lit("No Upfront")).otherwise(pl.lit("")),
        "savingsPlan/EndTime": pl.when(is_sp).then(_iso(pl.lit(sp.end))).otherwise(pl.lit("")),
        "savingsPlan/StartTime": pl.when(is_sp).then(_iso(pl.lit(sp.start))).otherwise(pl.lit("")),
        "savingsPlan/OfferingType": pl.when(is_sp).then(pl.lit("ComputeSavingsPlans")).otherwise(pl.lit("")),
        "resourceTags/user:model": pl.col("tag_model"),
        "resourceTags/user:team": pl.col("tag_team"),
        "resourceTags/user:workload-type": pl.col("tag_workload_type"),
        "costCategory/business-unit": pl.col("account_id").replace_strict(
            {"222222222222": "ml-platform", "333333333333": "research"}, default=""
        ),
    }
    missing = set(FIELDS_BY_HEADER) ^ set(exprs)
    if missing:
        raise AssertionError(f"field list and values disagree: {sorted(missing)}")
    frame = charges.select(**exprs)
    # Rates are strings in every CUR flavour; lines without a quantity (tax, credits) have none.
    rate_text = positional(frame["lineItem/UnblendedRate"])
    rate_text = pl.select(
        pl.when(charges["usage_amount"] != 0).then(rate_text).otherwise(pl.lit(""))
    ).to_series()
    public_rate = positional(frame["pricing/publicOnDemandRate"])
    public_rate = pl.select(
        pl.when(charges["public_rate"] != 0).then(public_rate).otherwise(pl.lit(""))
    ).to_series()
    return frame.with_columns(
        rate_text.alias("lineItem/UnblendedRate"),
        rate_text.alias("lineItem/BlendedRate"),
        public_rate.alias("pricing/publicOnDemandRate"),
    )
