-- check gpu_cost_by_pod_daily.pod_split_adds_up_to_node_cost (blocking): nodes and days whose gpu_cost_by_pod_daily rows (pods, __idle__,
-- __unobserved__) do not add up to the node's GPU cost, to the cent, or to its GPU hours: a dollar dropped or
-- counted twice by the split. Parameters: $start_date, $end_date.
select
    usage_date,
    resource_id,
    any_value(node_gpu_cost) as node_gpu_cost,
    fsum(gpu_cost) as split_gpu_cost,
    any_value(node_allocated_gpu_hours) as node_allocated_gpu_hours,
    sum(gpu_hours) as split_gpu_hours
from gpu_cost_by_pod_daily
where usage_date between $start_date and $end_date
group by usage_date, resource_id
having abs(fsum(gpu_cost) - any_value(node_gpu_cost)) >= 0.005
    -- The split is over the larger of billed and logged GPU time (a log claiming more GPUs than the bill).
    or sum(gpu_hours) < any_value(node_allocated_gpu_hours) * (1 - 1e-9)
order by usage_date, resource_id
