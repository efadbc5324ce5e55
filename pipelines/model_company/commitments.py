"""The commitments' own lines: the Savings Plan's daily recurring fee and the Reserved Instance's fees."""

from __future__ import annotations

import numpy as np

from .company import Company
from .lines import add_shared, day_starts, r10
from .periods import DAY, HOUR, Month


def savings_plan_fees(lines, company: Company, month: Month, sp_used_by_day: np.ndarray) -> None:
    """One recurring-fee line a day; its effective cost is the commitment the day left unused."""
    sp = company.savings_plan
    starts = day_starts(month)
    for day, start in enumerate(starts):
        total = r10(sp.hourly_commitment * 24)
        used = float(r10(sp_used_by_day[day]))
        add_shared(
            lines,
            account_id=sp.account_id,
            product_code="ComputeSavingsPlans",
            line_item_type="SavingsPlanRecurringFee",
            start=int(start),
            end=int(start + DAY),
            billed=total,
            effective=r10(total - used),
            resource_id=sp.arn,
            sp_arn=sp.arn,
            usage_type="ComputeSP:1yrNoUpfront",
            usage_amount=24.0,
            pricing_unit="Hrs",
            rate=sp.hourly_commitment,
            sp_total_commitment_to_date=total,
            sp_used_commitment=used,
            sp_recurring_commitment_for_billing_period=total,
            purchase_option="No Upfront",
            lease_length="1yr",
            region="us-east-1",
            description=f"1yr No Upfront Compute Savings Plan, {sp.hourly_commitment} USD hourly commitment",
        )


def reservation_fees(lines, company: Company, month: Month, timelines, offset) -> None:
    """The monthly RIFee (effective = unused part) and, in the month the RI was bought, its upfront fee."""
    ri = company.reservation
    start, end = max(month.start, ri.start), min(month.end, ri.end)
    if end <= start:
        return
    reserved_hours = (end - start) // HOUR
    covered = next(r for r in company.resources if r.purchase == "ri")
    usage = timelines[covered.key][offset : offset + month.hours]
    used = float(r10(usage.sum()))
    unused = float(r10(reserved_hours - used))
    heavy = f"HeavyUsage:{ri.instance_type}"
    common = {
        "account_id": ri.account_id,
        "product_code": "AmazonEC2",
        "ri_arn": ri.arn,
        "usage_type": heavy,
        "operation": "RunInstances",
        "region": ri.region,
        "instance_type": ri.instance_type,
        "pricing_term": "Reserved",
        "purchase_option": "Partial Upfront",
        "offering_class": "standard",
        "lease_length": "1yr",
        "ri_upfront_value": ri.upfront_fee,
        "product_family": "Compute Instance",
    }
    unused_upfront = r10(unused * ri.amortized_upfront_hourly)
    unused_recurring = r10(unused * ri.recurring_hourly)
    add_shared(
        lines,
        **common,
        line_item_type="RIFee",
        start=month.start,
        end=month.end,
        billed=r10(reserved_hours * ri.recurring_hourly),
        effective=r10(unused_upfront + unused_recurring),
        usage_amount=float(reserved_hours),
        pricing_unit="Hrs",
        rate=ri.recurring_hourly,
        ri_amortized_upfront_fee_for_billing_period=r10(reserved_hours * ri.amortized_upfront_hourly),
        ri_unused_amortized_upfront_fee_for_billing_period=unused_upfront,
        ri_unused_recurring_fee=unused_recurring,
        ri_unused_quantity=unused,
        description=f"USD {ri.recurring_hourly} hourly fee per Linux/UNIX, {ri.instance_type} instance",
    )
    if month.start <= ri.start < month.end:
        add_shared(
            lines,
            **common,
            line_item_type="Fee",
            start=ri.start,
            end=ri.start + HOUR,
            billed=ri.upfront_fee,
            effective=0.0,
            usage_amount=1.0,
            rate=ri.upfront_fee,
            description=f"Sign up charge for subscription: {ri.subscription_id}, planId: {ri.instance_type}",
        )
