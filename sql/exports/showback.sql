-- showback: one billing period's effective cost per owner and category: the owner's own (direct) cost, the shared
-- cost spread onto it, and their total; billed cost beside it. Every cost_attribution row of the period is in
-- exactly one row, so the totals equal the bill's.
-- The owner is the workload itself ($owner_tag NULL), or the value of the owner tag ($owner_tag, e.g. user_team)
-- most often found on the lines that carry the workload's name as a tag value; with $owner_is_workload_tag the
-- workload must itself be a value of that tag (a model is a model only if some line is tagged with it).
-- Workloads with no owner get $unowned.
-- Reads: cost_attribution, line_items (views). Parameters: $period, $owner_tag, $owner_is_workload_tag, $unowned.
with tag_sets as (
    -- The period's distinct tag maps that carry the owner tag, with how many lines carry each: a month of
    -- millions of lines has a few hundred of them.
    select tags, count(*) as lines
    from line_items
    where billing_period = cast($period as date)
        and cast($owner_tag as varchar) is not null
        and nullif(tags[cast($owner_tag as varchar)], '') is not null
    group by tags
),

owner_votes as (
    select v.workload, t.tags[cast($owner_tag as varchar)] as owner, sum(t.lines) as lines
    from tag_sets as t, unnest(map_values(t.tags)) as v(workload)
    where not $owner_is_workload_tag or t.tags[cast($owner_tag as varchar)] = v.workload
    group by all
),

owner_of as (
    -- The owner most lines agree on (ties: the first by name, so the file is the same on every run).
    select workload, owner from owner_votes
    qualify row_number() over (partition by workload order by lines desc, owner) = 1
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
    -- To a millionth: a parallel sum's last bits vary between runs, and the same inputs should give the same file.
    round(coalesce(fsum(effective_cost) filter (where allocation = 'direct'), 0), 6) as direct_cost,
    round(coalesce(fsum(effective_cost) filter (where allocation = 'spread'), 0), 6) as spread_cost,
    round(fsum(effective_cost), 6) as total_cost,
    round(fsum(billed_cost), 6) as billed_cost
from attributed
group by all
order by billing_currency, owner, category
