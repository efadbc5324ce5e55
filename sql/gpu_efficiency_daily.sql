-- gpu_efficiency_daily: how much of the GPU time on the bill did work, and what the idle part cost.
-- Grain: one row per usage_date × resource_id (a GPU instance, SageMaker endpoint or training job).
-- Allocated GPU-seconds come from the bill's compute lines (hours × GPUs per instance type); active GPU-seconds
-- integrate utilization samples over the part of their interval inside each billed interval (so samples are
-- cut at hour and day boundaries and samples outside billed time count for nothing).
-- A GPU with no samples is unobserved, not idle: eta = active / observed by default ($eta_basis = 'observed'),
-- or active / allocated ($eta_basis = 'allocated', counting unobserved time as idle); both are columns.
-- Reads: the staging macros gpu_billed_intervals and gpu_device_seconds (sql/staging/), which read
-- cost_attribution, gpu_samples (views) and gpu_instance_types (reference table).
-- Parameters: $start_date, $end_date (inclusive UTC days), $eta_basis.
with billed as (
    select * from gpu_billed_intervals($start_date, $end_date)
),

activity as (
    select
        o.usage_date,
        o.resource_id,
        sum(o.seconds) filter (where o.chosen) as observed_seconds,
        sum(o.seconds * o.value) filter (where o.chosen) as active_seconds,
        sum(o.seconds) filter (where o.metric = 'sm_active') as sm_observed_seconds,
        sum(o.seconds * o.value) filter (where o.metric = 'sm_active') as sm_active_seconds,
        -- Power draw / limit, time-weighted over the samples that have it (any log format).
        sum(o.seconds) filter (where o.metric = 'power') as power_observed_seconds,
        sum(o.seconds * o.value) filter (where o.metric = 'power') as power_active_seconds,
        any_value(o.metric_source) as metric_source,
        count(distinct o.gpu) filter (where o.chosen) as gpus_in_log
    from gpu_device_seconds($start_date, $end_date) as o
    group by o.usage_date, o.resource_id
),

per_day as (
    select
        usage_date,
        resource_id,
        arg_max(workload, gpu_cost) as workload,
        arg_max(category, gpu_cost) as category,
        any_value(instance_type) as instance_type,
        max(gpu_count) as gpu_count,
        -- GPUs billed at once: instances running in the busiest interval (a partial hour is one instance) × GPUs.
        max(gpu_count * ceil(billed_seconds / nullif(epoch(interval_end) - epoch(interval_start), 0) - 1e-9))
            as gpus_billed,
        sum(billed_seconds * gpu_count) as allocated_seconds,
        fsum(gpu_cost) as gpu_cost
    from billed
    group by usage_date, resource_id
),

-- Ratios are not clipped: DuckDB's least/greatest skip NULL (least(NULL, 1) is 1), and a clip would hide a log
-- that claims more GPU time than the bill (an 8-GPU log mapped to a 1-GPU instance). A ratio with no denominator
-- is NULL; observed time beyond allocated is reported in its own column and caught by the blocking check.
final as (
    select
        d.usage_date,
        d.resource_id,
        d.workload,
        d.category,
        d.instance_type,
        d.gpu_count,
        d.allocated_seconds / 3600 as allocated_gpu_hours,
        coalesce(a.observed_seconds, 0) / 3600 as observed_gpu_hours,
        coalesce(a.active_seconds, 0) / 3600 as active_gpu_hours,
        -- The only clipped figure; what the clip removed is observed_beyond_allocated_gpu_hours.
        case
            when coalesce(a.observed_seconds, 0) > d.allocated_seconds then d.allocated_seconds
            else coalesce(a.observed_seconds, 0)
        end / nullif(d.allocated_seconds, 0) as coverage,
        a.active_seconds / nullif(a.observed_seconds, 0) as eta_observed,
        -- NULL, not 0, where nothing was observed: no sample says the GPUs were idle.
        case when a.observed_seconds > 0 then a.active_seconds / nullif(d.allocated_seconds, 0) end
            as eta_allocated,
        a.sm_active_seconds / nullif(a.sm_observed_seconds, 0) as eta_sm,
        a.power_active_seconds / nullif(a.power_observed_seconds, 0) as eta_power,
        d.gpu_cost,
        a.metric_source,
        cast(nullif(a.gpus_in_log, 0) as integer) as gpus_in_log,
        cast(d.gpus_billed as integer) as gpus_billed,
        case
            when coalesce(a.observed_seconds, 0) > d.allocated_seconds
                then (a.observed_seconds - d.allocated_seconds) / 3600
            else 0
        end as observed_beyond_allocated_gpu_hours
    from per_day as d
    left join activity as a on d.usage_date = a.usage_date and d.resource_id = a.resource_id
)

select
    usage_date,
    resource_id,
    workload,
    category,
    instance_type,
    gpu_count,
    allocated_gpu_hours,
    observed_gpu_hours,
    active_gpu_hours,
    case
        when coverage = 0 or coverage is null then null
        when $eta_basis = 'allocated' then eta_allocated
        else eta_observed
    end as eta,
    coverage,
    eta_observed,
    eta_allocated,
    eta_sm,
    gpu_cost,
    gpu_cost * (1 - case
        when coverage = 0 or coverage is null then null
        when $eta_basis = 'allocated' then eta_allocated
        else eta_observed
    end) as idle_cost,
    gpu_cost * (1 - coalesce(coverage, 0)) as unobserved_cost,
    $eta_basis as eta_basis,
    coalesce(metric_source, 'none') as metric_source,
    gpus_in_log,
    gpus_billed,
    observed_beyond_allocated_gpu_hours,
    eta_power
from final
order by usage_date, resource_id
