-- gpu_eta_heatmap: GPU efficiency η (active / observed GPU hours) per GPU resource and UTC day of this month, for
-- the $limit resources that cost most this month (a fleet of thousands is not a readable heatmap; the idle
-- dollars table ranks them all by idle cost). NULL where no utilization sample covered the resource that day
-- (an empty cell, not 0).
-- Reads: gpu_efficiency_daily. Parameters: $as_of, $limit.
with month as (
    select * from gpu_efficiency_daily
    where usage_date between cast(date_trunc('month', cast($as_of as date)) as date) and cast($as_of as date)
),

costliest as (
    select resource_id from month
    group by resource_id
    order by fsum(gpu_cost) desc, resource_id
    limit $limit
)

select
    -- The instance id, or the name at the end of a SageMaker ARN: what people call the machine.
    regexp_replace(m.resource_id, '^arn:aws:sagemaker:[^:]*:[^:]*:', '') as resource,
    m.usage_date,
    m.workload,
    m.eta,
    m.coverage,
    m.allocated_gpu_hours
from month as m
where m.resource_id in (select c.resource_id from costliest as c)
order by resource, m.usage_date
