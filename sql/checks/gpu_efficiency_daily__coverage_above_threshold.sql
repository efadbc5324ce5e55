-- check gpu_efficiency_daily.coverage_above_threshold (warning): the run's days, when less than $min_coverage of
-- their billed GPU hours had utilization samples (one row, or none), with the three resources whose billed hours
-- went most unobserved. Days without billed GPU hours have no coverage (NULL) and return no row.
-- Parameters: $start_date, $end_date, $min_coverage.
with days as (
    select d.resource_id, d.allocated_gpu_hours, d.observed_gpu_hours
    from gpu_efficiency_daily as d
    where d.usage_date between $start_date and $end_date
),

unobserved as (
    select
        u.resource_id,
        sum(u.allocated_gpu_hours - least(u.observed_gpu_hours, u.allocated_gpu_hours)) as gpu_hours
    from days as u
    group by u.resource_id
    having gpu_hours > 0
    order by gpu_hours desc, u.resource_id
    limit 3
),

totals as (
    select
        sum(t.observed_gpu_hours) / nullif(sum(t.allocated_gpu_hours), 0) as coverage,
        sum(t.allocated_gpu_hours) as allocated_gpu_hours,
        sum(t.observed_gpu_hours) as observed_gpu_hours
    from days as t
)

select
    cast($start_date as date) as first_day,
    cast($end_date as date) as last_day,
    totals.coverage,
    totals.allocated_gpu_hours,
    totals.observed_gpu_hours,
    (
        select list({'resource_id': n.resource_id, 'gpu_hours': n.gpu_hours} order by n.gpu_hours desc, n.resource_id)
        from unobserved as n
    ) as most_unobserved
from totals
where totals.coverage < $min_coverage
