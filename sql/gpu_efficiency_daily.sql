-- gpu_efficiency_daily: how much of the GPU time on the bill did work, and what the idle part cost.
-- Grain: one row per usage_date × resource_id (a GPU instance, SageMaker endpoint or training job).
-- Allocated GPU-seconds come from the bill's compute lines (hours × GPUs per instance type); active GPU-seconds
-- integrate utilization samples over the part of their interval inside each billed interval (so samples are
-- cut at hour and day boundaries and samples outside billed time count for nothing).
-- A GPU with no samples is unobserved, not idle: eta = active / observed by default ($eta_basis = 'observed'),
-- or active / allocated ($eta_basis = 'allocated', counting unobserved time as idle); both are columns.
-- Reads: cost_attribution, gpu_samples (views), gpu_instance_types (reference table).
-- Parameters: $start_date, $end_date (inclusive UTC days), $eta_basis.
with compute_lines as (
    select
        usage_date,
        resource_id,
        workload,
        category,
        charge_period_start,
        charge_period_end,
        usage_quantity,
        effective_cost,
        coalesce(product_gpu_count, 0) as product_gpu_count,
        -- SageMaker types carry an `ml.` prefix and have the GPUs of their EC2 namesake.
        regexp_replace(lower(coalesce(
            nullif(instance_type, ''), regexp_extract(usage_type, ':((ml\.)?[a-z0-9-]+\.[a-z0-9]+)$', 1)
        )), '^ml\.', '') as base_type,
        coalesce(nullif(instance_type, ''), regexp_extract(usage_type, ':((ml\.)?[a-z0-9-]+\.[a-z0-9]+)$', 1))
            as instance_type
    from cost_attribution
    where usage_date between cast($start_date as date) and cast($end_date as date)
        and allocation = 'direct'
        and resource_id is not null
        and line_item_type is distinct from 'SavingsPlanNegation'
        and (
            regexp_matches(
                coalesce(usage_type, ''),
                '(BoxUsage|SpotUsage|DedicatedUsage|(^|-)(Train|Host|AsyncInf|Transform|Notebk|Processing)(-Spot)?):'
            )
            -- A FOCUS bill with no AWS usage type (Azure, Google Cloud, OCI): a usage line of an instance type
            -- (VM size, machine type, shape); the reference table says which have GPUs.
            or (usage_type is null and charge_category = 'Usage' and instance_type is not null)
        )
),

gpu_lines as (
    select
        c.*,
        coalesce(nullif(c.product_gpu_count, 0), t.gpu_count) as gpu_count,
        -- The same resource seen as an ARN on the bill and as a bare name in the logs: compare lower-cased names.
        case
            when c.resource_id like 'arn:%' then lower(regexp_extract(c.resource_id, '/([^/]+)$', 1))
            else c.resource_id
        end as resource_key
    from compute_lines as c
    left join gpu_instance_types as t on c.base_type = t.instance_type
    where coalesce(nullif(c.product_gpu_count, 0), t.gpu_count) > 0
),

-- One billed interval per resource and charge period: lines of one hour (partial commitment coverage splits an
-- instance hour into fractions) are summed, so samples are matched once.
billed as (
    select
        usage_date,
        resource_id,
        resource_key,
        charge_period_start as interval_start,
        charge_period_end as interval_end,
        any_value(instance_type) as instance_type,
        max(gpu_count) as gpu_count,
        -- Instance hours, not wall time: an endpoint of two instances bills two hours per hour.
        sum(usage_quantity) * 3600 as billed_seconds,
        sum(effective_cost) as gpu_cost,
        arg_max(workload, effective_cost) as workload,
        arg_max(category, effective_cost) as category
    from gpu_lines
    group by usage_date, resource_id, resource_key, charge_period_start, charge_period_end
),

samples as (
    select
        case
            when resource_id like 'arn:%' then lower(regexp_extract(resource_id, '/([^/]+)$', 1))
            when resource_id like 'i-%' then resource_id
            else lower(resource_id)
        end as resource_key,
        coalesce(gpu_uuid, cast(gpu_index as varchar), 'all') as gpu,
        metric,
        value,
        source_format,
        ts - to_microseconds(cast(interval_seconds * 1000000 as bigint)) as sample_start,
        ts as sample_end
    from gpu_samples
    where usage_date between cast($start_date as date) - 1 and cast($end_date as date)
),

sample_overlaps as (
    select
        b.usage_date,
        b.resource_id,
        s.gpu,
        s.metric,
        s.source_format,
        s.value,
        epoch(least(s.sample_end, b.interval_end)) - epoch(greatest(s.sample_start, b.interval_start)) as seconds
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
),

activity as (
    select
        o.usage_date,
        o.resource_id,
        sum(o.seconds) filter (where o.metric = m.pick[1] and o.source_format = m.pick[2]) as observed_seconds,
        sum(o.seconds * o.value) filter (where o.metric = m.pick[1] and o.source_format = m.pick[2])
            as active_seconds,
        sum(o.seconds) filter (where o.metric = 'sm_active') as sm_observed_seconds,
        sum(o.seconds * o.value) filter (where o.metric = 'sm_active') as sm_active_seconds,
        any_value(m.pick[2] || ':' || m.pick[1]) as metric_source
    from sample_overlaps as o
    left join chosen as m on o.usage_date = m.usage_date and o.resource_id = m.resource_id
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
        sum(billed_seconds * gpu_count) as allocated_seconds,
        sum(gpu_cost) as gpu_cost
    from billed
    group by usage_date, resource_id
),

final as (
    select
        d.usage_date,
        d.resource_id,
        d.workload,
        d.category,
        d.instance_type,
        d.gpu_count,
        d.allocated_seconds / 3600 as allocated_gpu_hours,
        least(coalesce(a.observed_seconds, 0), d.allocated_seconds) / 3600 as observed_gpu_hours,
        least(coalesce(a.active_seconds, 0), d.allocated_seconds) / 3600 as active_gpu_hours,
        least(coalesce(a.observed_seconds, 0), d.allocated_seconds) / nullif(d.allocated_seconds, 0) as coverage,
        least(a.active_seconds / nullif(a.observed_seconds, 0), 1) as eta_observed,
        least(coalesce(a.active_seconds, 0) / nullif(d.allocated_seconds, 0), 1) as eta_allocated,
        least(a.sm_active_seconds / nullif(a.sm_observed_seconds, 0), 1) as eta_sm,
        d.gpu_cost,
        a.metric_source
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
    coalesce(metric_source, 'none') as metric_source
from final
order by usage_date, resource_id
