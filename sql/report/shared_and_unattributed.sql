-- shared_and_unattributed: this month's cost without a natural owner: shared cost by kind, kept as `shared` or
-- spread onto workloads, and usage cost no tag or mapping could name (workload unattributed).
-- Reads: cost_attribution. Parameters: $as_of.
select
    case
        when category = 'shared' or allocation = 'spread' then 'shared: ' || coalesce(shared_kind, 'other')
        else 'unattributed usage'
    end as kind,
    case when allocation = 'spread' then 'spread onto workloads' else 'not spread' end as treatment,
    billing_currency,
    fsum(effective_cost) as effective_cost
from cost_attribution
where usage_date between cast(date_trunc('month', cast($as_of as date)) as date) and cast($as_of as date)
    and (category = 'shared' or allocation = 'spread' or workload = 'unattributed')
group by all
order by kind, treatment
