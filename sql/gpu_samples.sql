-- gpu_samples: utilization samples of every GPU log, normalized (one metric as a 0–1 ratio per row).
-- Grain: one row per GPU × metric × sample time. A sample at ts stands for [ts − interval_seconds, ts); its
-- usage_date is the UTC date its interval starts, so a day's efficiency reads that day's and the previous day's
-- samples and cuts them at the billed intervals.
-- Reads: gpu_sample_rows (the frame of pipelines/gpu/samples.py). Parameters: $start_date, $end_date.
with samples as (
    select
        *,
        cast(ts - to_microseconds(cast(interval_seconds * 1000000 as bigint)) as date) as usage_date
    from gpu_sample_rows
),

final as (
    select
        usage_date,
        ts,
        resource_id,
        host,
        gpu_index,
        gpu_uuid,
        gpu_model,
        metric,
        value,
        interval_seconds,
        source_file,
        source_format,
        mig_instance,
        mig_profile,
        gpu_share,
        namespace,
        pod,
        container,
        holders
    from samples
    where usage_date between cast($start_date as date) and cast($end_date as date)
)

select * from final order by usage_date, resource_id, gpu_index, metric, mig_instance, ts, namespace, pod, container
