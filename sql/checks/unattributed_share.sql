-- check unattributed_share: the share of non-shared effective cost whose workload is unattributed (one row).
-- Parameters: $start_date, $end_date.
select
    coalesce(
        sum(effective_cost) filter (where workload = 'unattributed' and category <> 'shared')
        / nullif(sum(effective_cost) filter (where category <> 'shared'), 0),
        0
    ) as unattributed_share,
    coalesce(sum(effective_cost) filter (where workload = 'unattributed' and category <> 'shared'), 0)
        as unattributed_effective_cost
from cost_attribution
where usage_date between $start_date and $end_date
