-- gpu_eta_heatmap: GPU efficiency η (active / observed GPU hours) per GPU resource and UTC day of this month.
-- NULL where no utilization sample covered the resource that day (an empty cell, not 0).
-- Reads: gpu_efficiency_daily. Parameters: $as_of.
select
    -- The instance id, or the name at the end of a SageMaker ARN: what people call the machine.
    regexp_replace(resource_id, '^arn:aws:sagemaker:[^:]*:[^:]*:', '') as resource,
    usage_date,
    workload,
    eta,
    coverage,
    allocated_gpu_hours
from gpu_efficiency_daily
where usage_date between cast(date_trunc('month', cast($as_of as date)) as date) and cast($as_of as date)
order by resource, usage_date
