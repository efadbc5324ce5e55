-- shared_spread_to: where this month's spread shared cost went: the receiving category and workload per shared
-- kind (rows with allocation = 'spread'; empty when every sharing strategy is `keep`).
-- Reads: cost_attribution. Parameters: $as_of.
select
    category,
    workload,
    coalesce(shared_kind, 'other') as shared_kind,
    billing_currency,
    fsum(effective_cost) as effective_cost
from cost_attribution
where usage_date between cast(date_trunc('month', cast($as_of as date)) as date) and cast($as_of as date)
    and allocation = 'spread'
group by all
order by effective_cost desc, category, workload, shared_kind
