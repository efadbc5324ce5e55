"""Every charge of one month as one table, in a neutral schema that the three exporters translate.

Money is rounded to 10 decimals when the line is made, and every answer is computed from these rounded
values, so the answers match what the files hold.
"""

from __future__ import annotations

import numpy as np
import polars as pl

from .adjustments import month_end_lines
from .commitments import reservation_fees, savings_plan_fees
from .company import INSTANCE_TYPES, Company, compute_category
from .daily_lines import storage_lines, transfer_lines
from .ids import stream
from .lines import PRODUCT_NAMES, LineTable, prefixed, r10, sku, tag_cols
from .periods import DAY, HOUR, Month


def build_month(company: Company, month: Month, timelines: dict[str, np.ndarray]) -> pl.DataFrame:
    """All lines of one billing period, in a fixed order (exporters shuffle nothing)."""
    rng = stream(company.seed, f"charges/{month.label}")
    lines = LineTable()
    offset = (month.start - company.months[0].start) // HOUR
    hour_starts = month.start + np.arange(month.hours, dtype=np.int64) * HOUR
    sp_used_by_day = np.zeros(month.days)

    for resource in company.resources:
        if resource.key not in timelines:
            continue
        usage = timelines[resource.key][offset : offset + month.hours]
        on = usage > 0
        if not on.any():
            continue
        starts = hour_starts[on]
        amounts = r10(usage[on])
        if resource.kind == "ec2":
            _ec2_compute(lines, company, resource, starts, amounts, rng, sp_used_by_day, month)
        else:
            _sagemaker_compute(lines, resource, starts, amounts)

    storage_lines(lines, company, month, rng)
    transfer_lines(lines, company, month, rng, timelines, offset)
    savings_plan_fees(lines, company, month, sp_used_by_day)
    reservation_fees(lines, company, month, timelines, offset)
    frame = lines.frame().with_columns(pl.lit(month.label).alias("billing_period"))
    frame = month_end_lines(frame, company, month)
    return frame.with_columns(
        pl.col("product_code").replace_strict(PRODUCT_NAMES, default="").alias("product_name")
    )


def _ec2_compute(lines, company, resource, starts, amounts, rng, sp_used_by_day, month) -> None:
    itype = INSTANCE_TYPES[resource.instance_type]
    od = itype.on_demand_rate
    common = {
        "account_id": resource.account_id,
        "product_code": "AmazonEC2",
        "service_code": "AmazonEC2",
        "resource_id": resource.resource_id,
        "region": resource.region,
        "az": resource.az,
        "instance_type": itype.name,
        "product_family": "Compute Instance",
        "from_location": "",
        "pricing_unit": "Hrs",
        "public_rate": od,
        "gpu_count": itype.gpus,
        "category": compute_category(resource.tags),
        **tag_cols(resource),
    }
    box = prefixed(resource.region, f"BoxUsage:{itype.name}")
    ends = starts + HOUR
    if resource.purchase == "on_demand":
        billed = r10(amounts * od)
        lines.add(
            len(starts),
            **common,
            line_item_type="Usage",
            start=starts,
            end=ends,
            usage_type=box,
            operation="RunInstances",
            usage_amount=amounts,
            rate=od,
            billed=billed,
            effective=billed,
            public_cost=billed,
            pricing_term="OnDemand",
            description=f"${od} per On Demand Linux {itype.name} Instance Hour",
        )
    elif resource.purchase == "spot":
        # Spot prices move hour to hour; the bill shows each hour's price.
        price = np.round(od * rng.uniform(0.33, 0.42, size=len(starts)), 4)
        billed = r10(amounts * price)
        lines.add(
            len(starts),
            **common,
            line_item_type="Usage",
            start=starts,
            end=ends,
            usage_type=prefixed(resource.region, f"SpotUsage:{itype.name}"),
            operation="RunInstances:SV001",
            usage_amount=amounts,
            rate=price,
            billed=billed,
            effective=billed,
            public_cost=r10(amounts * od),
            pricing_term="Spot",
            description=[f"${p} per Linux {itype.name} Spot Instance-hour" for p in price],
        )
    elif resource.purchase == "ri":
        ri = company.reservation
        hourly = ri.amortized_upfront_hourly + ri.recurring_hourly
        effective = r10(amounts * hourly)
        lines.add(
            len(starts),
            **common,
            line_item_type="DiscountedUsage",
            start=starts,
            end=ends,
            usage_type=box,
            operation="RunInstances",
            usage_amount=amounts,
            rate=0.0,
            billed=0.0,
            effective=effective,
            public_cost=r10(amounts * od),
            pricing_term="Reserved",
            purchase_option="Partial Upfront",
            offering_class="standard",
            lease_length="1yr",
            ri_arn=ri.arn,
            ri_effective_cost=effective,
            ri_amortized_upfront_cost_for_usage=r10(amounts * ri.amortized_upfront_hourly),
            ri_recurring_fee_for_usage=r10(amounts * ri.recurring_hourly),
            description=f"USD {hourly} hourly fee per Linux/UNIX (Amazon VPC), {itype.name} instance",
        )
    elif resource.purchase == "sp":
        sp = company.savings_plan
        sp_rate = round(od * (1 - sp.discount), 4)
        # The commitment buys part of each running hour; the rest of the hour is billed on demand.
        covered = r10(np.minimum(amounts, sp.hourly_commitment / sp_rate))
        rest = r10(amounts - covered)
        od_cost = r10(covered * od)
        sp_cost = r10(covered * sp_rate)
        sp_cols = {
            "sp_arn": sp.arn,
            "sp_rate": sp_rate,
            "purchase_option": "No Upfront",
            "lease_length": "1yr",
        }
        lines.add(
            len(starts),
            **common,
            **sp_cols,
            line_item_type="SavingsPlanCoveredUsage",
            start=starts,
            end=ends,
            usage_type=box,
            operation="RunInstances",
            usage_amount=covered,
            rate=od,
            billed=od_cost,
            effective=sp_cost,
            public_cost=od_cost,
            sp_effective_cost=sp_cost,
            pricing_term="OnDemand",
            description=f"USD {sp_rate} per hour for {itype.name} covered by Compute Savings Plan",
        )
        # The negation cancels the covered line's on-demand cost; it repeats the covered quantity.
        lines.add(
            len(starts),
            **{**common, "public_rate": 0.0},
            **sp_cols,
            line_item_type="SavingsPlanNegation",
            start=starts,
            end=ends,
            usage_type=box,
            operation="RunInstances",
            usage_amount=covered,
            rate=-od,
            billed=-od_cost,
            effective=0.0,
            public_cost=0.0,
            description=f"SavingsPlanNegation used by AccountId : {resource.account_id} and UsageSku : "
            f"{sku(box, resource.region)}",
        )
        has_rest = rest > 0
        rest_cost = r10(rest[has_rest] * od)
        lines.add(
            int(has_rest.sum()),
            **common,
            line_item_type="Usage",
            start=starts[has_rest],
            end=ends[has_rest],
            usage_type=box,
            operation="RunInstances",
            usage_amount=rest[has_rest],
            rate=od,
            billed=rest_cost,
            effective=rest_cost,
            public_cost=rest_cost,
            pricing_term="OnDemand",
            description=f"${od} per On Demand Linux {itype.name} Instance Hour",
        )
        day_index = (starts - month.start) // DAY
        np.add.at(sp_used_by_day, day_index, sp_cost)
    else:
        raise ValueError(f"unknown purchase {resource.purchase!r}")


def _sagemaker_compute(lines, resource, starts, amounts) -> None:
    itype = INSTANCE_TYPES[resource.instance_type]
    kind, category = {
        "sagemaker_train": ("Train", "training"),
        "sagemaker_host": ("Host", "inference"),
        "sagemaker_notebook": ("Notebk", "other"),
    }[resource.kind]
    usage_type = prefixed(resource.region, f"{kind}:{itype.name}", always=True)
    billed = r10(amounts * itype.on_demand_rate)
    lines.add(
        len(starts),
        account_id=resource.account_id,
        product_code="AmazonSageMaker",
        service_code="AmazonSageMaker",
        resource_id=resource.resource_id,
        region=resource.region,
        instance_type=itype.name,
        product_family="ML Instance",
        pricing_unit="Hrs",
        public_rate=itype.on_demand_rate,
        gpu_count=itype.gpus,
        category=category,
        **tag_cols(resource),
        line_item_type="Usage",
        start=starts,
        end=starts + HOUR,
        usage_type=usage_type,
        operation="RunInstance",
        usage_amount=amounts,
        rate=itype.on_demand_rate,
        billed=billed,
        effective=billed,
        public_cost=billed,
        pricing_term="OnDemand",
        description=f"${itype.on_demand_rate} per hour for {kind} {itype.name} in US East (N. Virginia)",
    )
