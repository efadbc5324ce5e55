"""Month-end lines computed from the rest of the month: credits, refunds, the support fee and tax."""

from __future__ import annotations

import polars as pl

from .company import PAYER_ACCOUNT, PROD_ACCOUNT, Company
from .lines import LineTable, add_shared
from .periods import DAY, Month

TAX_RATE = 0.06


def month_end_lines(frame: pl.DataFrame, company: Company, month: Month) -> pl.DataFrame:
    """Credits, refunds, the support fee and tax: computed from the month's other lines."""
    lines = LineTable()
    index = [m.label for m in company.months].index(month.label)
    add_shared(
        lines,
        account_id=PROD_ACCOUNT,
        product_code="AmazonEC2",
        line_item_type="Credit",
        start=month.start,
        end=month.end,
        billed=-2500.0,
        effective=-2500.0,
        description="AWS Activate Credits",
    )
    if index == len(company.months) - 1:
        # Re-delivered with the corrections: a refund for an overcharge in the previous month, so its charge
        # period lies wholly outside this billing period.
        prev_day = month.start - 17 * DAY
        add_shared(
            lines,
            account_id=PROD_ACCOUNT,
            product_code="AmazonEC2",
            line_item_type="Refund",
            start=prev_day,
            end=prev_day + DAY,
            billed=-842.4,
            effective=-842.4,
            description="Refund for overcharge on EBS volume usage",
        )
    else:
        add_shared(
            lines,
            account_id=PROD_ACCOUNT,
            product_code="AmazonSageMaker",
            line_item_type="Refund",
            start=month.start,
            end=month.end,
            billed=-310.55,
            effective=-310.55,
            description="Refund for SageMaker endpoint SLA credit",
        )
    usage_total = float(frame.filter(pl.col("line_item_type") != "Credit")["billed"].sum())
    add_shared(
        lines,
        account_id=PAYER_ACCOUNT,
        product_code="AWSSupportBusiness",
        line_item_type="Fee",
        start=month.start,
        end=month.end,
        billed=_support_fee(usage_total),
        effective=_support_fee(usage_total),
        description="AWS Support (Business)",
        usage_type="Dollar",
        region="",
    )
    frame = pl.concat([frame, lines.frame().with_columns(pl.lit(month.label).alias("billing_period"))])
    taxes = LineTable()
    by_code = frame.group_by("product_code").agg(pl.col("billed").sum()).sort("product_code")
    for code, billed in by_code.iter_rows():
        if code == "ComputeSavingsPlans" or billed <= 0:
            continue
        tax = round(billed * TAX_RATE, 2)
        add_shared(
            taxes,
            account_id=PROD_ACCOUNT,
            product_code=code,
            line_item_type="Tax",
            start=month.start,
            end=month.end,
            billed=tax,
            effective=tax,
            description=f"Tax for product code {code}",
            tax_type="Sales Tax",
        )
    return pl.concat([frame, taxes.frame().with_columns(pl.lit(month.label).alias("billing_period"))])


def _support_fee(usage: float) -> float:
    """AWS Business support tiers: 10 % of the first $10k, 7 % to $80k, 5 % to $250k, 3 % above."""
    tiers = [(10_000, 0.10), (80_000, 0.07), (250_000, 0.05), (float("inf"), 0.03)]
    fee, floor = 0.0, 0.0
    for ceiling, rate in tiers:
        if usage > floor:
            fee += (min(usage, ceiling) - floor) * rate
        floor = ceiling
    return round(max(fee, 100.0), 2)
