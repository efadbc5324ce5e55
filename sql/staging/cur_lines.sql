-- staging/cur_lines: CUR (legacy and 2.0) lines in line_items columns, with amortized (effective) cost.
-- Grain: one row per source line. Reads `raw_lines` (the canonical projection built by pipelines/billing/formats.py).
-- Effective cost follows the first-match table in shared/domain/BILLING.md (AWS's own dashboards' rule).
with raw as (
    select * from raw_lines
),

typed as (
    select
        coalesce(bill_billing_period_start_date, date_trunc('month', line_item_usage_start_date)) as period_start,
        line_item_usage_start_date as charge_period_start,
        line_item_usage_end_date as charge_period_end,
        coalesce(bill_payer_account_id, line_item_usage_account_id) as billing_account_id,
        line_item_usage_account_id as sub_account_id,
        line_item_product_code as service_code,
        line_item_usage_type as usage_type,
        line_item_operation as operation,
        line_item_resource_id as resource_id,
        coalesce(product_region_code, product_region) as region,
        line_item_availability_zone as availability_zone,
        product_instance_type as instance_type,
        product_product_family as product_family,
        line_item_line_item_type as line_item_type,
        line_item_line_item_description as charge_description,
        coalesce(line_item_usage_amount, 0) as usage_quantity,
        pricing_unit,
        coalesce(line_item_unblended_cost, 0) as billed_cost,
        coalesce(pricing_public_on_demand_cost, 0) as list_cost,
        -- Currency codes are compared as written, so `usd` and ` USD` would be two currencies: upper-cased and
        -- trimmed here; a blank code is USD (CUR writes one currency per payer, and older exports omit it).
        coalesce(nullif(upper(trim(line_item_currency_code)), ''), 'USD') as billing_currency,
        -- Empty until the month is invoiced: CUR writes '' where FOCUS writes NULL.
        nullif(bill_invoice_id, '') as invoice_id,
        nullif(bill_invoicing_entity, '') as invoice_issuer,
        nullif(line_item_legal_entity, '') as publisher,
        try_cast(product_gpu as integer) as product_gpu_count,
        coalesce(reservation_reservation_a_r_n, savings_plan_savings_plan_a_r_n) as commitment_id,
        case
            when reservation_reservation_a_r_n is not null then 'Reserved Instance'
            when savings_plan_savings_plan_a_r_n is not null then 'Savings Plan'
        end as commitment_type,
        -- What the commitment costs for the line's period, as the bill states it (fee lines only): an RI's
        -- recurring fee plus its amortized upfront fee for the billing period; a Savings Plan's total commitment
        -- for the hour (TotalCommitmentToDate, upfront part included). sql/commitment_utilization.sql.
        case
            when line_item_line_item_type = 'RIFee'
                then coalesce(line_item_unblended_cost, 0)
                + coalesce(reservation_amortized_upfront_fee_for_billing_period, 0)
            when line_item_line_item_type = 'SavingsPlanRecurringFee'
                then coalesce(savings_plan_total_commitment_to_date, 0)
        end as commitment_cost,
        case when line_item_line_item_type = 'RIFee' then reservation_unused_quantity end
            as commitment_unused_quantity,
        case
            when line_item_line_item_type = 'SavingsPlanCoveredUsage'
                then coalesce(savings_plan_savings_plan_effective_cost, 0)
            when line_item_line_item_type = 'SavingsPlanNegation' then 0
            when line_item_line_item_type = 'SavingsPlanRecurringFee'
                then coalesce(savings_plan_total_commitment_to_date, 0) - coalesce(savings_plan_used_commitment, 0)
            when line_item_line_item_type = 'SavingsPlanUpfrontFee' then 0
            when line_item_line_item_type = 'DiscountedUsage' then coalesce(reservation_effective_cost, 0)
            when line_item_line_item_type = 'RIFee'
                then coalesce(reservation_unused_amortized_upfront_fee_for_billing_period, 0)
                + coalesce(reservation_unused_recurring_fee, 0)
            when line_item_line_item_type = 'Fee' and reservation_reservation_a_r_n is not null then 0
            when line_item_line_item_type = 'Refund'
                and line_item_product_code = 'ComputeSavingsPlans'
                and line_item_line_item_description like 'Refund for one-time fee for Savings Plan ID%'
                then 0
            else coalesce(line_item_unblended_cost, 0)
        end as effective_cost,
        case
            -- list_contains, not IN: DuckDB plans a long IN list (the five values below) as a join, and a join
            -- does not keep the lines in file order, which the published partition's bytes depend on
            -- (docs/ingestion.md).
            when list_contains(
                ['Usage', 'SavingsPlanCoveredUsage', 'SavingsPlanNegation', 'DiscountedUsage'], line_item_line_item_type
            ) then 'Usage'
            when list_contains(
                ['SavingsPlanRecurringFee', 'SavingsPlanUpfrontFee', 'RIFee', 'Fee'], line_item_line_item_type
            ) then 'Purchase'
            when line_item_line_item_type = 'Tax' then 'Tax'
            when list_contains(
                ['Credit', 'BundledDiscount', 'EdpDiscount', 'PrivateRateDiscount', 'SppDiscount'],
                line_item_line_item_type
            ) then 'Credit'
            when line_item_line_item_type = 'Refund' then 'Adjustment'
            else 'Usage'
        end as charge_category,
        tags,
        source_file,
        source_row,
        coalesce(product_servicecode, line_item_product_code) as service_name
    from raw
)

select
    cast(date_trunc('month', period_start) as date) as billing_period,
    charge_period_start,
    charge_period_end,
    cast(charge_period_start as date) as usage_date,
    'AWS' as provider,
    billing_account_id,
    sub_account_id,
    service_code,
    usage_type,
    operation,
    resource_id,
    region,
    availability_zone,
    instance_type,
    product_family,
    line_item_type,
    charge_category,
    cast(null as varchar) as charge_class,
    charge_description,
    usage_quantity,
    pricing_unit,
    billed_cost,
    effective_cost,
    list_cost,
    billing_currency,
    invoice_id,
    product_gpu_count,
    commitment_id,
    tags,
    source_file,
    source_row,
    cast(null as varchar) as commitment_status,
    -- FOCUS columns: CUR has no service category, meter or pricing category of the FOCUS vocabulary; its
    -- product's service code is the service's name.
    cast(null as varchar) as service_category,
    cast(null as varchar) as service_subcategory,
    service_name,
    cast(null as varchar) as sku_meter,
    cast(null as map(varchar, varchar)) as sku_price_details,
    cast(null as varchar) as pricing_category,
    cast(null as varchar) as resource_type,
    commitment_type,
    commitment_cost,
    commitment_unused_quantity,
    invoice_issuer,
    publisher
from typed
