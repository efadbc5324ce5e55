-- top_movers_service: the services (product codes) whose effective cost changed most between this month (to
-- $as_of) and the same days of last month, largest absolute change first.
-- Reads: cost_attribution. Parameters: $as_of, $limit.
with windows as (
    select
        cast(date_trunc('month', cast($as_of as date)) as date) as this_start,
        cast($as_of as date) as this_end,
        cast(date_trunc('month', cast($as_of as date)) - interval 1 month as date) as last_start,
        cast(cast($as_of as date) - interval 1 month as date) as last_end
)

select
    coalesce(c.service_code, '(none)') as service,
    c.billing_currency,
    coalesce(fsum(c.effective_cost) filter (where c.usage_date between w.last_start and w.last_end), 0) as last_month,
    coalesce(fsum(c.effective_cost) filter (where c.usage_date between w.this_start and w.this_end), 0) as this_month,
    this_month - last_month as change
from cost_attribution as c, windows as w
where c.usage_date between w.last_start and w.this_end
group by all
order by abs(change) desc, service
limit $limit
