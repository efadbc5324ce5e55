-- focus: one billing period of cost_attribution as a FOCUS 1.2 dataset (the 57 columns, then x_ columns).
-- Grain: one row per cost_attribution row: a source line's share of one UTC day, and shared cost spread onto a
-- workload as its own rows (allocation 'spread'), so Σ BilledCost and Σ EffectiveCost equal the bill's.
-- What the attribution does not carry (SKUs, tags, commitment names) is NULL, which FOCUS allows for those
-- columns; names we do not know are the ids (a FOCUS name column may not be null beside its id).
-- Two FOCUS rules reshape rows (docs/report.md, "FOCUS export"):
--   * a commitment's purchase (RI fee, Savings Plan fee) has EffectiveCost 0, and the part of it that went unused
--     (the effective cost the bill's amortization leaves on the fee line) is its own Usage row with
--     CommitmentDiscountStatus 'Unused' and BilledCost 0, so Σ BilledCost and Σ EffectiveCost are unchanged;
--   * a purchase that covers no future charges (no commitment: a support plan's monthly fee) is a Usage row of
--     its period, since FOCUS keeps EffectiveCost 0 for purchases and this cost is the period's own.
-- Reads: cost_attribution (view), region_names and service_categories (temp tables, pipelines/exports/focus.py),
-- and the focus_unit macro (exports/focus_unit.sql).
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

split as (
    select *, false as unused_part from rows
    union all
    select *, true as unused_part from rows
    where charge_category = 'Purchase' and commitment_id is not null and effective_cost <> 0
),

classified as (
    select
        *,
        case
            when unused_part then 'Usage'
            when charge_category = 'Purchase' and commitment_id is null then 'Usage'
            else charge_category
        end as focus_category,
        -- A Savings Plan commits to spend (its unit is the currency); a reservation to hours of a resource.
        case
            when commitment_id is null then null
            when commitment_type ilike '%savings%' then 'Spend'
            else 'Usage'
        end as commitment_category,
        -- The usage unit in FOCUS's unit format; NULL for a blank one (CUR writes '' where a line has no unit).
        focus_unit(pricing_unit) as unit,
        -- Who invoices the line: the bill's invoicing entity, else the provider's own (AWS's main entity).
        coalesce(invoice_issuer, case when provider = 'AWS' then 'Amazon Web Services, Inc.' else provider end)
            as invoice_issuer_name
    from split
),

final as (
    select
        cast(null as varchar) as AvailabilityZone,
        case when r.unused_part then 0 else r.billed_cost end as BilledCost,
        r.billing_account_id as BillingAccountId,
        r.billing_account_id as BillingAccountName,
        cast(null as varchar) as BillingAccountType,
        r.billing_currency as BillingCurrency,
        cast(r.billing_period + interval 1 month as timestamp) as BillingPeriodEnd,
        cast(r.billing_period as timestamp) as BillingPeriodStart,
        cast(null as varchar) as CapacityReservationId,
        cast(null as varchar) as CapacityReservationStatus,
        r.focus_category as ChargeCategory,
        -- A charge for time before its billing period, delivered in it (FOCUS: a correction to an earlier one).
        case when cast(r.charge_period_end as timestamp) <= cast(r.billing_period as timestamp) then 'Correction' end
            as ChargeClass,
        case
            when r.unused_part and r.allocation = 'spread'
                then 'Unused commitment ' || r.commitment_id || ' allocated to ' || r.workload
            when r.unused_part then 'Unused commitment ' || r.commitment_id
            when r.allocation = 'spread'
                then 'Shared ' || coalesce(r.shared_kind, 'other') || ' cost allocated to ' || r.workload
            else concat_ws(' ', r.line_item_type, r.usage_type)
        end as ChargeDescription,
        case
            when r.unused_part then 'Recurring'
            when r.charge_category in ('Usage', 'Tax') then 'Usage-Based'
            when r.charge_category in ('Credit', 'Adjustment') then 'One-Time'
            -- An upfront fee is paid once for the whole term.
            when r.line_item_type in ('SavingsPlanUpfrontFee', 'Fee') and r.commitment_id is not null then 'One-Time'
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
        r.commitment_category as CommitmentDiscountCategory,
        r.commitment_id as CommitmentDiscountId,
        cast(null as varchar) as CommitmentDiscountName,
        -- In the commitment's unit: dollars of a Savings Plan (its fee row: the commitment for the period; a used or
        -- unused row: its effective cost), hours of a reservation (its fee row: the hours reserved; a used row: the
        -- hours covered; the unused row: the bill's unused hours, NULL when the export does not state them).
        case
            when r.commitment_id is null or r.focus_category not in ('Usage', 'Purchase') then null
            when r.commitment_category = 'Spend' and r.focus_category = 'Purchase'
                then coalesce(r.commitment_cost, r.billed_cost)
            when r.commitment_category = 'Spend' then r.effective_cost
            when r.unused_part then r.commitment_unused_quantity
            else r.usage_quantity
        end as CommitmentDiscountQuantity,
        case
            when r.commitment_id is null or r.focus_category <> 'Usage' then null
            when r.unused_part then 'Unused'
            else coalesce(r.commitment_status, 'Used')
        end as CommitmentDiscountStatus,
        case when r.commitment_id is not null then coalesce(r.commitment_type, 'Commitment') end
            as CommitmentDiscountType,
        case
            when r.commitment_id is null or r.focus_category not in ('Usage', 'Purchase') then null
            when r.commitment_category = 'Spend' then r.billing_currency
            when r.unused_part and r.commitment_unused_quantity is null then null
            else 'Hours'
        end as CommitmentDiscountUnit,
        case
            when r.charge_category = 'Usage' and r.allocation = 'direct' and not r.unused_part and r.unit is not null
                then r.usage_quantity
        end as ConsumedQuantity,
        case
            when r.charge_category = 'Usage' and r.allocation = 'direct' and not r.unused_part then r.unit
        end as ConsumedUnit,
        case when r.unused_part then 0 else coalesce(r.list_cost, r.billed_cost) end as ContractedCost,
        cast(null as double) as ContractedUnitPrice,
        case when r.focus_category = 'Purchase' then 0 else r.effective_cost end as EffectiveCost,
        r.invoice_id as InvoiceId,
        r.invoice_issuer_name as InvoiceIssuerName,
        case when r.unused_part then 0 else coalesce(r.list_cost, r.billed_cost) end as ListCost,
        cast(null as double) as ListUnitPrice,
        -- FOCUS 1.2: not null on Usage and Purchase rows (a purchase at the agreed rate is Standard), null on Tax.
        case
            when r.unused_part then 'Committed'
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
        case when r.allocation = 'direct' and r.unit is not null and not r.unused_part then r.usage_quantity end
            as PricingQuantity,
        -- FOCUS's unit format (sql/exports/focus_unit.sql): AWS's GB-Mo is GB-Months, Hrs is Hours.
        case when r.allocation = 'direct' and not r.unused_part then r.unit end as PricingUnit,
        -- The invoice issuer: on a cloud's bill the cloud sells and invoices every line, Marketplace included (it is
        -- the merchant of record), and FOCUS validators read ProviderName <> InvoiceIssuerName as "paid to a third
        -- party" (BilledCost 0). AWS's own FOCUS export writes 'AWS' beside 'Amazon Web Services, Inc.'; mlcost's
        -- short name stays in x_Provider.
        r.invoice_issuer_name as ProviderName,
        coalesce(r.publisher, r.invoice_issuer_name) as PublisherName,
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
        r.provider as x_Provider,
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
    from classified as r
    left join region_names as n on n.region_id = r.region
    left join service_categories as s on s.service_code = r.service_code
)

select * from final
order by x_UsageDate, x_Category, x_Workload, x_RuleId, ChargePeriodStart, ChargeCategory, CommitmentDiscountStatus
