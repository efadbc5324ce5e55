-- check cost_attribution.unattributed_share: the run's days, when more than $max_share of their non-shared
-- effective cost has workload unattributed (one row, or none). Days without non-shared cost have no share (NULL)
-- and return no row. With $max_share = -1 the row is returned whatever the share: the asset's headline figure.
-- Parameters: $start_date, $end_date, $max_share.
select *
from (
    select
        fsum(effective_cost) filter (where workload = 'unattributed' and category <> 'shared')
        / nullif(fsum(effective_cost) filter (where category <> 'shared'), 0) as unattributed_share,
        coalesce(fsum(effective_cost) filter (where workload = 'unattributed' and category <> 'shared'), 0)
            as unattributed_effective_cost
    from cost_attribution
    where usage_date between $start_date and $end_date
)
where unattributed_share > $max_share or $max_share = -1
