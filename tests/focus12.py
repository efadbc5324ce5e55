"""The FOCUS 1.2 column requirements the exports are held to, checked on a polars frame.

The FinOps Foundation's `focus-validator` cannot run in mlcost's `.venv`: its releases with FOCUS 1.2 rules (2.x)
require Python 3.12+, numpy < 2 and pandas 2 (mlcost runs on 3.11 and pins numpy 2.4.6, pandas 3.1.1), and 1.0.0
ships rule sets for FOCUS 0.5 and 1.0 only. It runs from its own virtualenv in tests/test_focus_validator.py. This
module states the 1.2 requirements for these columns (presence, type, nullability, allowed values and the
conditional rules between columns) from the specification's column pages, each as one line a reader can check,
so that they are checked in every test run.
"""

from __future__ import annotations

import polars as pl

from fixtures.model_company.focus import (
    FOCUS_COLUMNS,
)  # the 57 columns of FOCUS 1.2, from its column library

NOT_NULL = [
    "BilledCost", "BillingAccountId", "BillingCurrency", "BillingPeriodEnd", "BillingPeriodStart",
    "ChargeCategory", "ChargeFrequency", "ChargePeriodEnd", "ChargePeriodStart", "ContractedCost",
    "EffectiveCost", "InvoiceIssuerName", "ListCost", "ProviderName", "PublisherName", "ServiceCategory",
    "ServiceName", "ServiceSubcategory",
]  # fmt: skip
ALLOWED = {
    "ChargeCategory": {"Usage", "Purchase", "Tax", "Credit", "Adjustment"},
    "ChargeClass": {"Correction"},
    "ChargeFrequency": {"One-Time", "Recurring", "Usage-Based"},
    "PricingCategory": {"Standard", "Dynamic", "Committed", "Other"},
    "CommitmentDiscountStatus": {"Used", "Unused"},
    "CommitmentDiscountCategory": {"Spend", "Usage"},
    "CapacityReservationStatus": {"Used", "Unused"},
    "ServiceCategory": {
        "AI and Machine Learning", "Analytics", "Business Applications", "Compute", "Databases",
        "Developer Tools", "Multicloud", "Identity", "Integration", "Internet of Things",
        "Management and Governance", "Media", "Migration", "Mobile", "Networking", "Security", "Storage", "Web",
        "Other",
    },
}  # fmt: skip
DECIMAL = [
    "BilledCost", "ContractedCost", "EffectiveCost", "ListCost", "ConsumedQuantity", "PricingQuantity",
    "ContractedUnitPrice", "ListUnitPrice", "CommitmentDiscountQuantity", "PricingCurrencyContractedUnitPrice",
    "PricingCurrencyEffectiveCost", "PricingCurrencyListUnitPrice",
]  # fmt: skip
DATETIME = ["BillingPeriodEnd", "BillingPeriodStart", "ChargePeriodEnd", "ChargePeriodStart"]
ISO_Z = r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$"


# FOCUS 1.2's unit format, as focus-validator 2.2.1 checks it (PricingUnit-C-003-O; its FormatUnitGenerator):
# a data size, a time, or a count word (letters and digits, starting with a letter, words separated by spaces);
# <unit>-<plural time>; <unit>/<singular time>; <number> <unit>; <unit>/<number> <plural time>.
_SIZE = "|".join(
    [p + u for u in ("b", "B") for p in ("", "K", "M", "G", "T", "P", "E")]
    + [p + "i" + u for u in ("b", "B") for p in ("K", "M", "G", "T", "P", "E")]
)
_TIME1 = "Year|Month|Day|Hour|Minute|Second"
_TIMES = "Years|Months|Days|Hours|Minutes|Seconds"
_COUNT = r"[A-Za-z][A-Za-z0-9]*(?:\s+[A-Za-z][A-Za-z0-9]*)*"
UNIT_FORMAT = "|".join(
    [
        f"^(?:{_SIZE}|{_TIME1}|{_TIMES}|{_COUNT})$",
        f"^(?:{_SIZE}|{_COUNT})-(?:{_TIMES})$",
        f"^(?:{_SIZE}|{_COUNT}|{_TIMES})/(?:{_TIME1})$",
        f"^[0-9]+ (?:{_SIZE}|{_TIME1}|{_TIMES}|{_COUNT})$",
        f"^(?:{_SIZE}|{_COUNT}|{_TIMES})/[0-9]+ (?:{_TIMES})$",
    ]
)


def typed(frame: pl.DataFrame) -> pl.DataFrame:
    """A CSV read as text, typed as the spec says (empty cell = null); a Parquet frame passes through."""
    if frame.schema["BilledCost"] != pl.String:
        return frame
    errors = []
    for column in DATETIME:
        bad = frame.filter(pl.col(column).is_not_null() & ~pl.col(column).str.contains(ISO_Z))
        if bad.height:
            errors.append(f"{column}: {bad.height} values not ISO 8601 UTC (e.g. {bad[column][0]!r})")
    assert not errors, errors
    return frame.with_columns(
        *(pl.col(c).cast(pl.Float64) for c in DECIMAL),
        *(pl.col(c).str.to_datetime("%Y-%m-%dT%H:%M:%SZ", time_zone="UTC") for c in DATETIME),
    )


def focus12_errors(frame: pl.DataFrame) -> list[str]:
    """Every FOCUS 1.2 requirement the frame breaks, one line each (empty: conforms)."""
    errors = [f"missing column {c}" for c in FOCUS_COLUMNS if c not in frame.columns]
    errors += [
        f"custom column {c} lacks the x_ prefix"
        for c in frame.columns
        if c not in FOCUS_COLUMNS and not c.startswith("x_")
    ]
    if errors:
        return errors
    frame = typed(frame)
    for c in DECIMAL:
        if not frame.schema[c].is_numeric() and frame[c].null_count() < frame.height:
            errors.append(f"{c} is {frame.schema[c]}, not a decimal")
    for c in DATETIME:
        if not isinstance(frame.schema[c], pl.Datetime) or frame.schema[c].time_zone not in ("UTC", None):
            errors.append(f"{c} is {frame.schema[c]}, not a UTC date-time")

    def count(expr: pl.Expr) -> int:
        return frame.filter(expr).height

    for c in NOT_NULL:
        if n := count(pl.col(c).is_null()):
            errors.append(f"{c} is null on {n} rows")
    for c, allowed in ALLOWED.items():
        if n := count(pl.col(c).is_not_null() & ~pl.col(c).is_in(sorted(allowed))):
            errors.append(f"{c}: {n} rows outside {sorted(allowed)}")
    rules = {
        "BillingCurrency is an ISO 4217 code": ~pl.col("BillingCurrency").str.contains(r"^[A-Z]{3}$"),
        "ChargePeriodStart < ChargePeriodEnd": pl.col("ChargePeriodStart") >= pl.col("ChargePeriodEnd"),
        "BillingPeriodStart < BillingPeriodEnd": pl.col("BillingPeriodStart") >= pl.col("BillingPeriodEnd"),
        "PricingCategory not null on Usage/Purchase rows that are not corrections": pl.col(
            "PricingCategory"
        ).is_null()
        & pl.col("ChargeClass").is_null()
        & pl.col("ChargeCategory").is_in(["Usage", "Purchase"]),
        "PricingCategory null on Tax rows": pl.col("PricingCategory").is_not_null()
        & (pl.col("ChargeCategory") == "Tax"),
        "PricingUnit not null when PricingQuantity is": pl.col("PricingQuantity").is_not_null()
        & pl.col("PricingUnit").is_null(),
        "PricingQuantity not null when PricingUnit is": pl.col("PricingUnit").is_not_null()
        & pl.col("PricingQuantity").is_null(),
        # Unit format: a time suffix is a plural time unit ("GB-Months", not AWS's "GB-Mo").
        "PricingUnit's time suffix is Years, Months, Days, Hours, Minutes or Seconds": pl.col(
            "PricingUnit"
        ).str.contains("-")
        & ~pl.col("PricingUnit").str.contains(r"-(Years|Months|Days|Hours|Minutes|Seconds)$"),
        "PricingUnit in FOCUS unit format": pl.col("PricingUnit").is_not_null()
        & ~pl.col("PricingUnit").str.contains(UNIT_FORMAT),
        "ConsumedUnit in FOCUS unit format": pl.col("ConsumedUnit").is_not_null()
        & ~pl.col("ConsumedUnit").str.contains(UNIT_FORMAT),
        # Each category has its own "Other (<category>)" subcategory; another category's is wrong.
        "ServiceSubcategory Other (...) names the row's ServiceCategory": pl.col(
            "ServiceSubcategory"
        ).str.starts_with("Other (")
        & (
            pl.col("ServiceSubcategory")
            != pl.concat_str(pl.lit("Other ("), pl.col("ServiceCategory"), pl.lit(")"))
        ),
        "ConsumedUnit not null when ConsumedQuantity is": pl.col("ConsumedQuantity").is_not_null()
        & pl.col("ConsumedUnit").is_null(),
        "ConsumedQuantity null when ChargeCategory is not Usage": pl.col("ConsumedQuantity").is_not_null()
        & (pl.col("ChargeCategory") != "Usage"),
        "RegionName not null when RegionId is": pl.col("RegionId").is_not_null()
        & pl.col("RegionName").is_null(),
        "ResourceName null when ResourceId is": pl.col("ResourceId").is_null()
        & pl.col("ResourceName").is_not_null(),
        "SubAccountName not null when SubAccountId is": pl.col("SubAccountId").is_not_null()
        & pl.col("SubAccountName").is_null(),
        "ChargeClass Correction only for time before the billing period": (
            pl.col("ChargeClass") == "Correction"
        )
        & (pl.col("ChargePeriodStart") >= pl.col("BillingPeriodStart")),
    }
    for rule, broken in rules.items():
        if n := count(broken.fill_null(False)):
            errors.append(f"{rule}: broken on {n} rows")
    return errors
