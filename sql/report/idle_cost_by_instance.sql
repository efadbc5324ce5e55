-- idle_cost_by_instance: this month's GPU cost per resource and workload, split into busy, idle (gpu_cost × (1 − η))
-- and unobserved (no utilization data); η over the month = active / observed GPU hours (NULL when nothing was
-- observed). The $limit resources with the most idle cost (then GPU cost).
-- Reads: gpu_efficiency_daily. Parameters: $as_of, $limit.
select
    regexp_replace(resource_id, '^arn:aws:sagemaker:[^:]*:[^:]*:', '') as resource,
    workload,
    instance_type,
    fsum(gpu_cost) as gpu_cost,
    coalesce(fsum(idle_cost), 0) as idle_cost,
    fsum(unobserved_cost) as unobserved_cost,
    sum(active_gpu_hours) / nullif(sum(observed_gpu_hours), 0) as eta
from gpu_efficiency_daily
where usage_date between cast(date_trunc('month', cast($as_of as date)) as date) and cast($as_of as date)
group by all
order by idle_cost desc, gpu_cost desc, resource
limit $limit
