-- reconciliation: does every dollar of the bill appear, once, in the attributed tables?
-- Grain: one row per billing_period × billing_currency.
-- Reads: line_items, cost_attribution (views over one generation's files) and generations (billing_period,
-- generation: the name of those files, pipelines/storage/generations.py). Parameters: $start_period, $end_period (first
-- days of months).
with source as (
    select
        billing_period,
        billing_currency,
        count(*) as source_lines,
        fsum(billed_cost) as source_billed_cost,
        fsum(effective_cost) as source_effective_cost,
        any_value(delivery_id) as delivery_id
    from line_items
    where billing_period between cast($start_period as date) and cast($end_period as date)
    group by all
),

attributed as (
    select
        billing_period,
        billing_currency,
        fsum(billed_cost) as attributed_billed_cost,
        fsum(effective_cost) as attributed_effective_cost,
        fsum(effective_cost) filter (where workload = 'unattributed' and category <> 'shared')
            as unattributed_effective_cost,
        count(distinct usage_date) as attributed_days
    from cost_attribution
    where billing_period between cast($start_period as date) and cast($end_period as date)
    group by all
),

final as (
    select
        s.billing_period,
        s.billing_currency,
        s.delivery_id,
        s.source_lines,
        s.source_billed_cost,
        s.source_effective_cost,
        coalesce(a.attributed_billed_cost, 0) as attributed_billed_cost,
        coalesce(a.attributed_effective_cost, 0) as attributed_effective_cost,
        coalesce(a.attributed_effective_cost, 0) - s.source_effective_cost as difference,
        coalesce(a.attributed_billed_cost, 0) - s.source_billed_cost as billed_difference,
        coalesce(a.unattributed_effective_cost, 0) as unattributed_effective_cost,
        coalesce(a.attributed_days, 0) as attributed_days,
        day(last_day(s.billing_period)) as days_in_period,
        -- The generation this row was computed from: it is published only together with those very files.
        g.generation
    from source as s
    left join attributed as a
        on s.billing_period = a.billing_period and s.billing_currency = a.billing_currency
    left join generations as g on s.billing_period = g.billing_period
)

select * from final order by billing_period, billing_currency
