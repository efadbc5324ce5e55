-- staging/focus_lines: FOCUS 1.0–1.3 rows in line_items columns. FOCUS rows keep their own EffectiveCost.
-- Grain: one row per source row. Reads `raw_lines` (the canonical projection built by pipelines/billing/formats.py).
-- AWS's FOCUS export adds x_ServiceCode / x_UsageType / x_Operation, which the attribution rules match on.
with raw as (
    select
        *,
        -- SkuPriceDetails is a JSON object of the price's properties (InstanceType, GpuCount, x_TransferType, ...);
        -- values become text. A value that is not a JSON object gives NULL (the line is kept: the details only
        -- feed rule matching and the GPU count, never money).
        try_cast(try_cast("SkuPriceDetails" as json) as map(varchar, varchar)) as sku_price_details
    from raw_lines
),

final as (
    select
        cast(date_trunc('month', "BillingPeriodStart") as date) as billing_period,
        "ChargePeriodStart" as charge_period_start,
        "ChargePeriodEnd" as charge_period_end,
        cast("ChargePeriodStart" as date) as usage_date,
        coalesce("ProviderName", 'unknown') as provider,
        "BillingAccountId" as billing_account_id,
        "SubAccountId" as sub_account_id,
        coalesce("x_ServiceCode", "ServiceName") as service_code,
        "x_UsageType" as usage_type,
        "x_Operation" as operation,
        "ResourceId" as resource_id,
        "RegionId" as region,
        "AvailabilityZone" as availability_zone,
        -- AWS's x_InstanceType, else the FOCUS 1.2+ SkuPriceDetails property. An unused commitment has no
        -- instance running, so it gets none (the GPU join would count the commitment's hours as idle GPUs).
        case
            -- In parentheses: sqlfluff cannot parse `is distinct from` in a select list otherwise (its issue 7585).
            when ("CommitmentDiscountStatus" is distinct from 'Unused')
                then coalesce("x_InstanceType", sku_price_details['InstanceType'])
        end as instance_type,
        "x_ProductFamily" as product_family,
        "x_LineItemType" as line_item_type,
        -- Real exports mix case ('Usage-based' vs 'Usage-Based'); ChargeCategory is matched in title case.
        upper(left("ChargeCategory", 1)) || lower(substr("ChargeCategory", 2)) as charge_category,
        "ChargeClass" as charge_class,
        "ChargeDescription" as charge_description,
        coalesce("ConsumedQuantity", 0) as usage_quantity,
        "PricingUnit" as pricing_unit,
        coalesce("BilledCost", 0) as billed_cost,
        coalesce("EffectiveCost", 0) as effective_cost,
        coalesce("ListCost", 0) as list_cost,
        -- Upper-cased and trimmed, so that `usd` and `USD` are one currency (see staging/cur_lines.sql).
        coalesce(nullif(upper(trim("BillingCurrency")), ''), 'USD') as billing_currency,
        "InvoiceId" as invoice_id,
        try_cast(sku_price_details['GpuCount'] as integer) as product_gpu_count,
        "CommitmentDiscountId" as commitment_id,
        -- Two source keys can normalize to one (`user:Team`, `user:team`): keep the first, as CUR 2.0 does.
        map_from_entries(list_filter(
            tag_entries, (e, i) -> list_position(list_transform(tag_entries, x -> x.key), e.key) = i
        )) as tags,
        source_file,
        source_row,
        "CommitmentDiscountStatus" as commitment_status,
        "ServiceCategory" as service_category,
        "ServiceSubcategory" as service_subcategory,
        "ServiceName" as service_name,
        "SkuMeter" as sku_meter,
        sku_price_details,
        "PricingCategory" as pricing_category,
        "ResourceType" as resource_type,
        -- FOCUS states a commitment's cost as its Used and Unused rows' EffectiveCost, not as one figure.
        "CommitmentDiscountType" as commitment_type,
        cast(null as double) as commitment_cost,
        cast(null as double) as commitment_unused_quantity,
        "InvoiceIssuerName" as invoice_issuer,
        "PublisherName" as publisher
    from raw
)

select * from final
