-- check rule_coverage.unmatched_share: billing periods whose `unmatched` effective cost (category other, no rule matched) is
-- more than $threshold of the period's effective cost, with the services that make it up, largest first.
-- One row per offending billing period × currency. Reads: rule_coverage (view).
-- Parameters: $start_date, $end_date, $threshold (a share, e.g. 0.05), $top (how many services to name).
with periods as (
    select
        billing_period,
        billing_currency,
        fsum(effective_cost) filter (where rule_id = 'unmatched') as unmatched_effective_cost,
        fsum(effective_cost) as effective_cost
    from rule_coverage
    where billing_period between cast($start_date as date) and cast($end_date as date)
    group by all
),

services as (
    select
        billing_period,
        billing_currency,
        list(service || ' ' || printf('%.2f', effective_cost) order by effective_cost desc)[1:$top] as top_services
    from rule_coverage
    where billing_period between cast($start_date as date) and cast($end_date as date)
        and rule_id = 'unmatched'
    group by all
)

select
    p.billing_period,
    p.billing_currency,
    p.unmatched_effective_cost / nullif(p.effective_cost, 0) as unmatched_share,
    p.unmatched_effective_cost,
    p.effective_cost,
    s.top_services
from periods as p
inner join services as s using (billing_period, billing_currency)
where p.unmatched_effective_cost / nullif(p.effective_cost, 0) > $threshold
order by p.billing_period, p.billing_currency
