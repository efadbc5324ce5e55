-- staging/gpu_device_seconds: every sample's device seconds inside billed GPU time, as a table macro:
-- `from gpu_device_seconds($start_date, $end_date)`. Grain: one row per sample × billed interval it overlaps.
-- A sample at ts stands for [ts − interval_seconds, ts) and counts only for its part inside a billed interval of
-- its resource (cut at hour and day boundaries). `chosen` marks the one metric and log format η uses for the
-- resource and day. Defined once, here, for gpu_efficiency_daily.sql and gpu_efficiency_by_device_daily.sql.
-- Reads: gpu_samples (view), gpu_billed_intervals (staging macro).
create or replace temp macro gpu_device_seconds(start_date, end_date) as table
with billed as (
    select * from gpu_billed_intervals(start_date, end_date)
),

samples as (
    select
        case
            when resource_id like 'arn:%' then lower(regexp_extract(resource_id, '/([^/]+)$', 1))
            when resource_id like 'i-%' then resource_id
            else lower(resource_id)
        end as resource_key,
        -- A physical GPU: its UUID, else host and index; NULL when the log does not tell GPUs apart (SageMaker's
        -- per-endpoint figure, a one-GPU nvidia-smi log without index), so it is not counted as one GPU.
        coalesce(gpu_uuid, coalesce(host, '') || '#' || cast(gpu_index as varchar)) as gpu,
        -- A MIG instance is a device of its own, weighing its profile's share of the GPU (slices out of 7).
        coalesce(gpu_share, 1.0) as gpu_share,
        -- A sample copied once per pod holding the GPU (the exporter's virtual GPUs) counts once over its copies.
        coalesce(holders, 1) as holders,
        namespace,
        pod,
        container,
        host,
        gpu_index,
        gpu_uuid,
        mig_instance,
        mig_profile,
        metric,
        value,
        source_format,
        ts - to_microseconds(cast(interval_seconds * 1000000 as bigint)) as sample_start,
        ts as sample_end
    from gpu_samples
    where usage_date between cast(start_date as date) - 1 and cast(end_date as date)
),

sample_overlaps as (
    select
        b.usage_date,
        b.resource_id,
        -- The billed interval and the sample's end tell apart the copies of one sample (one per pod holding it).
        b.interval_start,
        s.sample_end,
        s.gpu,
        s.host,
        s.gpu_index,
        s.gpu_uuid,
        s.mig_instance,
        s.mig_profile,
        s.gpu_share,
        s.holders,
        s.namespace,
        s.pod,
        s.container,
        s.metric,
        s.source_format,
        s.value,
        -- Device seconds: wall seconds inside the billed interval times the device's share of its GPU (1 for a
        -- whole GPU), divided among the copies of a sample held by several pods. Both ends are never NULL (ts and
        -- interval_seconds are set on every sample).
        s.gpu_share
        * (epoch(least(s.sample_end, b.interval_end)) - epoch(greatest(s.sample_start, b.interval_start)))
        / s.holders as seconds
    from billed as b
    inner join samples as s
        on b.resource_key = s.resource_key
        and s.sample_start < b.interval_end
        and s.sample_end > b.interval_start
),

-- Per resource and day, one time-based metric from one log format: GR_ENGINE_ACTIVE where the logs have it, else
-- GPU_UTIL; and where two exporters log the same GPUs, the first of DCGM, nvidia-smi, CloudWatch, SageMaker, so no
-- GPU second is counted twice.
chosen as (
    select
        usage_date,
        resource_id,
        arg_min(
            [metric, source_format],
            (case metric when 'gr_engine_active' then 0 else 1 end) * 10
            + case
                when source_format like 'dcgm%' then 0
                when source_format = 'nvidia_smi' then 1
                when source_format like 'cloudwatch%' then 2
                else 3
            end
        ) as pick
    from sample_overlaps
    where metric in ('gr_engine_active', 'gpu_util')
    group by usage_date, resource_id
)

select
    o.*,
    coalesce(o.metric = m.pick[1] and o.source_format = m.pick[2], false) as chosen,
    m.pick[2] || ':' || m.pick[1] as metric_source
from sample_overlaps as o
left join chosen as m on o.usage_date = m.usage_date and o.resource_id = m.resource_id
