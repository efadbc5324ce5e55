-- staging/gpu_billed_intervals: the billed GPU intervals of start_date..end_date, as a table macro:
-- `from gpu_billed_intervals($start_date, $end_date)`. Grain: one row per resource and charge period.
-- Allocated GPU-seconds come from the bill's compute lines (hours × GPUs per instance type). Defined once, here,
-- because gpu_efficiency_daily.sql and gpu_efficiency_by_device_daily.sql both read it.
-- Reads: cost_attribution (view), gpu_instance_types (reference table).
create or replace temp macro gpu_billed_intervals(start_date, end_date) as table
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
    where usage_date between cast(start_date as date) and cast(end_date as date)
        and allocation = 'direct'
        and resource_id is not null
        and line_item_type is distinct from 'SavingsPlanNegation'
        and (
            -- Instance usage types name the instance after a colon: the pattern runs only on those lines.
            (
                contains(usage_type, ':') and regexp_matches(
                    usage_type,
                    '(BoxUsage|SpotUsage|DedicatedUsage|(^|-)(Train|Host|AsyncInf|Transform|Notebk|Processing)(-Spot)?):'
                )
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
)

-- One billed interval per resource and charge period: lines of one hour (partial commitment coverage splits an
-- instance hour into fractions) are summed, so samples are matched once.
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
    fsum(effective_cost) as gpu_cost,
    arg_max(workload, effective_cost) as workload,
    arg_max(category, effective_cost) as category
from gpu_lines
group by usage_date, resource_id, resource_key, charge_period_start, charge_period_end
