-- showback: one billing period's effective cost per owner and category: the owner's own (direct) cost, the shared
-- cost spread onto it, and their total; billed cost beside it. Every cost_attribution row of the period is in
-- exactly one row, so the totals equal the bill's.
-- The owner is the workload itself ($owner_tag NULL), or the value of the owner tag ($owner_tag, e.g. user_team)
-- most often found on the lines that carry the workload's name as a tag value; with $owner_is_workload_tag the
-- workload must itself be a value of that tag (a model is a model only if some line is tagged with it).
-- Workloads with no owner get $unowned.
-- Reads: cost_attribution, line_items (views). Parameters: $period, $owner_tag, $owner_is_workload_tag, $unowned.
with owner_of as (
    select
        v.workload,
        case
            when $owner_is_workload_tag then any_value(v.workload)
            else mode(l.tags[cast($owner_tag as varchar)])
        end as owner
    from line_items as l,
        unnest(map_values(l.tags)) as v(workload)
    where l.billing_period = cast($period as date)
        and cast($owner_tag as varchar) is not null
        and nullif(l.tags[cast($owner_tag as varchar)], '') is not null
        and (not $owner_is_workload_tag or l.tags[cast($owner_tag as varchar)] = v.workload)
    group by v.workload
),

attributed as (
    select
        a.*,
        case when cast($owner_tag as varchar) is null then a.workload else coalesce(o.owner, cast($unowned as varchar)) end as owner
    from cost_attribution as a
    left join owner_of as o on o.workload = a.workload
    where a.billing_period = cast($period as date)
)

select
    cast($period as date) as billing_period,
    owner,
    category,
    billing_currency,
    coalesce(sum(effective_cost) filter (where allocation = 'direct'), 0) as direct_cost,
    coalesce(sum(effective_cost) filter (where allocation = 'spread'), 0) as spread_cost,
    sum(effective_cost) as total_cost,
    sum(billed_cost) as billed_cost
from attributed
group by all
order by billing_currency, owner, category
