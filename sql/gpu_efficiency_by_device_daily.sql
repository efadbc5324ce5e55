-- gpu_efficiency_by_device_daily: on a host of several GPUs, which ones did work and which idled.
-- Grain: one row per usage_date × resource_id × device (a GPU: UUID, else host and index; a MIG instance of it).
-- The same device seconds as gpu_efficiency_daily (sql/staging/gpu_device_seconds.sql: samples cut at billed
-- intervals, one metric and log format per resource and day), so a resource's devices add up to its row there:
-- Σ observed_gpu_hours and Σ active_gpu_hours of its devices are its observed and active GPU hours. A MIG
-- instance's hours are weighted by its share of the GPU (slices out of 7). A billed GPU without samples has no
-- row (it is unobserved; gpu_efficiency_daily's coverage counts it).
-- Reads: the staging macros gpu_billed_intervals and gpu_device_seconds. Parameters: $start_date, $end_date.
with devices as (
    select
        usage_date,
        resource_id,
        host,
        gpu_index,
        gpu_uuid,
        mig_instance,
        any_value(mig_profile) as mig_profile,
        any_value(gpu_share) as gpu_share,
        sum(seconds) as observed_seconds,
        sum(seconds * value) as active_seconds,
        any_value(metric_source) as metric_source
    from gpu_device_seconds($start_date, $end_date)
    where chosen
    group by usage_date, resource_id, host, gpu_index, gpu_uuid, mig_instance
),

final as (
    select
        usage_date,
        resource_id,
        -- A readable device name: gpu 3, gpu 3 mig 1 (3g.20gb), the UUID where there is no index, or `all`
        -- where the log does not tell GPUs apart (SageMaker's per-endpoint figure).
        concat_ws(
            ' ',
            host,
            coalesce('gpu ' || cast(gpu_index as varchar), gpu_uuid, 'all'),
            case when mig_instance is not null then 'mig ' || mig_instance || ' (' || mig_profile || ')' end
        ) as device,
        host,
        gpu_index,
        gpu_uuid,
        mig_instance,
        mig_profile,
        gpu_share,
        observed_seconds / 3600 as observed_gpu_hours,
        active_seconds / 3600 as active_gpu_hours,
        active_seconds / nullif(observed_seconds, 0) as eta,
        metric_source
    from devices
)

select * from final order by usage_date, resource_id, host, gpu_index, gpu_uuid, mig_instance
