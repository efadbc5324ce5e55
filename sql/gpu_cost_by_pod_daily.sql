-- gpu_cost_by_pod_daily: a shared Kubernetes GPU node's GPU cost split by the GPU time each pod held.
-- Grain: one row per usage_date × resource_id (node) × namespace × pod, plus two rows per node and day with pod NULL:
-- $idle_workload (observed GPU time no pod held, or the part a fractional pod left) and $unobserved_workload (billed
-- GPU time without samples). The rows of a node and day add up to its GPU hours and to its gpu_cost (as in
-- gpu_efficiency_daily): no dollar is dropped.
-- Held GPU time: the sample's device seconds (cut at billed intervals, × MIG share, the metric η uses) × the pod's
-- GPU fraction; pods holding one GPU at once (time-slicing) whose fractions add to more than 1 share it in proportion.
-- Active time is held time × the GPU's activity: DCGM measures the GPU, not the pod, so pods sharing a GPU at one
-- time have its η. Nodes whose logs name no pod that day have no row (gpu_efficiency_daily covers them).
-- Reads: the staging macros gpu_billed_intervals and gpu_device_seconds, pod_workload_map (namespace, pod, workload,
-- gpu_fraction: pipelines/gpu/pods.py). Parameters: $start_date, $end_date, $idle_workload, $unobserved_workload.
with device_seconds as (
    select
        o.*,
        m.workload,
        m.workload_rule,
        -- The whole sample's device seconds: the macro divides them among the copies of a sample (one per pod).
        o.seconds * o.holders as sample_seconds,
        case when o.pod is not null then coalesce(m.gpu_fraction, 1.0) else 0 end as fraction
    from gpu_device_seconds($start_date, $end_date) as o
    left join pod_workload_map as m on o.namespace is not distinct from m.namespace and o.pod = m.pod
    where o.chosen
),

shared as (
    select
        *,
        -- The fractions of every pod holding this sample of this GPU (its copies) in this billed interval.
        sum(fraction) over (
            partition by usage_date, resource_id, interval_start, gpu, mig_instance, sample_end
        ) as fractions
    from device_seconds
),

node_days as (
    select
        usage_date,
        resource_id,
        sum(seconds) as observed_seconds,
        -- The part of the observed time no pod held; each copy carries its 1/holders of the sample.
        sum(seconds * (1 - least(fractions, 1.0))) as unheld_seconds,
        sum(seconds * (1 - least(fractions, 1.0)) * value) as unheld_active_seconds
    from shared
    group by usage_date, resource_id
    having count(pod) > 0
),

billed as (
    select
        usage_date,
        resource_id,
        sum(billed_seconds * gpu_count) as allocated_seconds,
        fsum(gpu_cost) as gpu_cost
    from gpu_billed_intervals($start_date, $end_date)
    group by usage_date, resource_id
),

nodes as (
    select
        n.*,
        b.allocated_seconds,
        b.gpu_cost,
        -- Split over the larger of billed and observed GPU time, so a log claiming more GPUs than the bill still
        -- splits exactly the bill's cost (gpu_efficiency_daily reports the excess).
        case
            when n.observed_seconds > b.allocated_seconds then n.observed_seconds else b.allocated_seconds
        end as split_seconds,
        case
            when n.observed_seconds > b.allocated_seconds then 0 else b.allocated_seconds - n.observed_seconds
        end as unobserved_seconds
    from node_days as n
    inner join billed as b on n.usage_date = b.usage_date and n.resource_id = b.resource_id
),

pods as (
    select
        usage_date,
        resource_id,
        namespace,
        pod,
        any_value(workload) as workload,
        any_value(workload_rule) as workload_rule,
        sum(sample_seconds * fraction / greatest(fractions, 1.0)) as held_seconds,
        sum(sample_seconds * fraction / greatest(fractions, 1.0) * value) as active_seconds
    from shared
    where pod is not null
    group by usage_date, resource_id, namespace, pod
),

splits as (
    select usage_date, resource_id, namespace, pod, workload, workload_rule, held_seconds, active_seconds
    from pods
    union all
    select usage_date, resource_id, null, null, $idle_workload, null, unheld_seconds, unheld_active_seconds
    from nodes
    union all
    select usage_date, resource_id, null, null, $unobserved_workload, null, unobserved_seconds, null
    from nodes
),

final as (
    select
        s.usage_date,
        s.resource_id,
        s.namespace,
        s.pod,
        s.workload,
        s.held_seconds / 3600 as gpu_hours,
        s.active_seconds / 3600 as active_gpu_hours,
        s.active_seconds / nullif(s.held_seconds, 0) as eta,
        s.held_seconds / nullif(n.split_seconds, 0) as cost_share,
        n.gpu_cost * s.held_seconds / nullif(n.split_seconds, 0) as gpu_cost,
        n.gpu_cost * s.held_seconds / nullif(n.split_seconds, 0)
        * (1 - s.active_seconds / nullif(s.held_seconds, 0)) as idle_cost,
        n.gpu_cost as node_gpu_cost,
        n.allocated_seconds / 3600 as node_allocated_gpu_hours,
        s.workload_rule
    from splits as s
    inner join nodes as n on s.usage_date = n.usage_date and s.resource_id = n.resource_id
)

select * from final
order by usage_date, resource_id, pod is null, namespace, pod, workload
