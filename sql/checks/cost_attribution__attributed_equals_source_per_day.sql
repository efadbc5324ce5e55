-- check cost_attribution.attributed_equals_source_per_day: per billing period touched by the run, Σ attributed effective cost (all its published
-- days) against Σ line_items effective cost. Returns the periods and currencies whose |difference| is half a cent
-- or more ($cent): less is floating-point noise, not a lost dollar.
-- Parameters: $start_date, $end_date, $cent.
with periods as (
    select distinct billing_period from cost_attribution
    where usage_date between $start_date and $end_date
),

source as (
    select billing_period, billing_currency, fsum(effective_cost) as source_effective_cost
    from line_items
    where billing_period in (select p.billing_period from periods as p)
    group by all
),

attributed as (
    select billing_period, billing_currency, fsum(effective_cost) as attributed_effective_cost
    from cost_attribution
    where billing_period in (select p.billing_period from periods as p)
    group by all
)

select
    s.billing_period,
    s.billing_currency,
    s.source_effective_cost,
    coalesce(a.attributed_effective_cost, 0) as attributed_effective_cost,
    coalesce(a.attributed_effective_cost, 0) - s.source_effective_cost as difference
from source as s
left join attributed as a using (billing_period, billing_currency)
where abs(coalesce(a.attributed_effective_cost, 0) - s.source_effective_cost) >= $cent
order by 1, 2
