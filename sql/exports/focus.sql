-- focus: one billing period of cost_attribution as a FOCUS 1.2 dataset (the 57 columns, then x_ columns).
-- Grain: one row per cost_attribution row: a source line's share of one UTC day, and shared cost spread onto a
-- workload as its own rows (allocation 'spread'), so Σ BilledCost and Σ EffectiveCost equal the bill's.
-- What the attribution does not carry (commitment ids, SKUs, tags, invoice id) is NULL, which FOCUS allows for
-- those columns; names we do not know are the ids (a FOCUS name column may not be null beside its id).
-- Reads: cost_attribution (view), region_names and service_categories (temp tables, pipelines/exports/focus.py).
-- Parameters: $period (first day of the billing period).
with rows as (
    select
        a.*,
        -- The row's charge period: the line's span clipped to its UTC day. A line placed on a day outside its own
        -- span (a correction for an earlier period lands on its billing period's first day) keeps its own span,
        -- which is what FOCUS asks of a correction; a zero-length line takes its whole day.
        greatest(cast(a.charge_period_start as timestamp), cast(a.usage_date as timestamp)) as clipped_start,
        least(cast(a.charge_period_end as timestamp), cast(a.usage_date as timestamp) + interval 1 day) as clipped_end
    from cost_attribution as a
    where a.billing_period = cast($period as date)
),

final as (
    select
        cast(null as varchar) as AvailabilityZone,
        r.billed_cost as BilledCost,
        r.billing_account_id as BillingAccountId,
        r.billing_account_id as BillingAccountName,
        cast(null as varchar) as BillingAccountType,
        r.billing_currency as BillingCurrency,
        cast(r.billing_period + interval 1 month as timestamp) as BillingPeriodEnd,
        cast(r.billing_period as timestamp) as BillingPeriodStart,
        cast(null as varchar) as CapacityReservationId,
        cast(null as varchar) as CapacityReservationStatus,
        r.charge_category as ChargeCategory,
        -- A charge for time before its billing period, delivered in it (FOCUS: a correction to an earlier one).
        case when cast(r.charge_period_end as timestamp) <= cast(r.billing_period as timestamp) then 'Correction' end
            as ChargeClass,
        case
            when r.allocation = 'spread'
                then 'Shared ' || coalesce(r.shared_kind, 'other') || ' cost allocated to ' || r.workload
            else concat_ws(' ', r.line_item_type, r.usage_type)
        end as ChargeDescription,
        case
            when r.charge_category in ('Usage', 'Tax') then 'Usage-Based'
            when r.charge_category in ('Credit', 'Adjustment') then 'One-Time'
            else 'Recurring'
        end as ChargeFrequency,
        case
            when r.clipped_end > r.clipped_start then r.clipped_end
            when r.charge_period_end > r.charge_period_start then cast(r.charge_period_end as timestamp)
            else cast(r.usage_date as timestamp) + interval 1 day
        end as ChargePeriodEnd,
        case
            when r.clipped_end > r.clipped_start then r.clipped_start
            when r.charge_period_end > r.charge_period_start then cast(r.charge_period_start as timestamp)
            else cast(r.usage_date as timestamp)
        end as ChargePeriodStart,
        cast(null as varchar) as CommitmentDiscountCategory,
        cast(null as varchar) as CommitmentDiscountId,
        cast(null as varchar) as CommitmentDiscountName,
        cast(null as double) as CommitmentDiscountQuantity,
        cast(null as varchar) as CommitmentDiscountStatus,
        cast(null as varchar) as CommitmentDiscountType,
        cast(null as varchar) as CommitmentDiscountUnit,
        case when r.charge_category = 'Usage' and r.allocation = 'direct' then r.usage_quantity end
            as ConsumedQuantity,
        case when r.charge_category = 'Usage' and r.allocation = 'direct' then r.pricing_unit end as ConsumedUnit,
        coalesce(r.list_cost, r.billed_cost) as ContractedCost,
        cast(null as double) as ContractedUnitPrice,
        r.effective_cost as EffectiveCost,
        cast(null as varchar) as InvoiceId,
        case when r.provider = 'AWS' then 'Amazon Web Services, Inc.' else r.provider end as InvoiceIssuerName,
        coalesce(r.list_cost, r.billed_cost) as ListCost,
        cast(null as double) as ListUnitPrice,
        -- FOCUS 1.2: not null on Usage and Purchase rows (a purchase at the agreed rate is Standard), null on Tax.
        case
            when r.charge_category = 'Purchase' then 'Standard'
            when r.charge_category <> 'Usage' then null
            when r.line_item_type in ('DiscountedUsage', 'SavingsPlanCoveredUsage', 'SavingsPlanNegation')
                then 'Committed'
            when r.usage_type like 'SpotUsage%' then 'Dynamic'
            else 'Standard'
        end as PricingCategory,
        cast(null as varchar) as PricingCurrency,
        cast(null as double) as PricingCurrencyContractedUnitPrice,
        cast(null as double) as PricingCurrencyEffectiveCost,
        cast(null as double) as PricingCurrencyListUnitPrice,
        case when r.allocation = 'direct' and r.pricing_unit is not null then r.usage_quantity end as PricingQuantity,
        -- FOCUS's unit format spells a time suffix out in the plural: AWS's GB-Mo is GB-Months, ...-Hrs is ...-Hours.
        case
            when r.allocation = 'direct' and r.pricing_unit is not null
                then regexp_replace(regexp_replace(r.pricing_unit, '-Mo$', '-Months'), '-Hrs$', '-Hours')
        end as PricingUnit,
        r.provider as ProviderName,
        case when r.provider = 'AWS' then 'Amazon Web Services, Inc.' else r.provider end as PublisherName,
        nullif(r.region, '') as RegionId,
        case when nullif(r.region, '') is not null then coalesce(n.region_name, r.region) end as RegionName,
        r.resource_id as ResourceId,
        r.resource_id as ResourceName,
        cast(null as varchar) as ResourceType,
        coalesce(s.service_category, 'Other') as ServiceCategory,
        coalesce(r.service_code, r.provider) as ServiceName,
        -- FOCUS 1.2 requires a subcategory of the row's category: the table's, else that category's "Other (...)".
        coalesce(s.service_subcategory, 'Other (' || coalesce(s.service_category, 'Other') || ')') as ServiceSubcategory,
        cast(null as varchar) as SkuId,
        cast(null as varchar) as SkuMeter,
        cast(null as varchar) as SkuPriceDetails,
        cast(null as varchar) as SkuPriceId,
        r.sub_account_id as SubAccountId,
        r.sub_account_id as SubAccountName,
        cast(null as varchar) as SubAccountType,
        cast(null as varchar) as Tags,
        -- mlcost's attribution, as FOCUS custom columns.
        r.category as x_Category,
        r.workload as x_Workload,
        r.rule_id as x_RuleId,
        r.allocation as x_Allocation,
        r.shared_kind as x_SharedKind,
        r.usage_date as x_UsageDate,
        r.line_item_type as x_LineItemType,
        r.usage_type as x_UsageType,
        r.operation as x_Operation,
        r.service_code as x_ServiceCode,
        r.instance_type as x_InstanceType,
        r.delivery_id as x_DeliveryId
    from rows as r
    left join region_names as n on n.region_id = r.region
    left join service_categories as s on s.service_code = r.service_code
)

select * from final
order by x_UsageDate, x_Category, x_Workload, x_RuleId, ChargePeriodStart
