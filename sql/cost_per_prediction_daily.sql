-- cost_per_prediction_daily: what a prediction of each model cost each UTC day, direct and loaded.
-- Grain: one row per usage_date × workload × billing_currency (workloads with inference cost or predictions that
-- day; money of two currencies is never added together).
-- inference_cost: the workload's direct inference compute. loaded_cost: its inference, storage and egress cost,
-- including the shared cost the attribution rules spread onto those categories (with shared kept as `shared`,
-- nothing is spread). A day with cost and no predictions has NULL cost per prediction; predictions without cost
-- have zero cost. eta: active / observed GPU time of the workload's inference GPUs that day.
-- Reads: cost_attribution, predictions_daily, gpu_efficiency_daily (views).
-- Parameters: $start_date, $end_date (inclusive UTC days).
with costs as (
    select
        usage_date,
        workload,
        fsum(effective_cost) filter (where category = 'inference' and allocation = 'direct') as inference_cost,
        fsum(effective_cost) filter (where category in ('inference', 'storage', 'egress')) as loaded_cost,
        billing_currency
    from cost_attribution
    where usage_date between cast($start_date as date) and cast($end_date as date)
    group by usage_date, workload, billing_currency
    having fsum(effective_cost) filter (where category = 'inference') <> 0
),

predictions as (
    select
        usage_date,
        workload,
        sum(predictions) as predictions,
        sum(failed_requests) as failed_requests,
        string_agg(distinct endpoint, ', ' order by endpoint) as endpoints
    from predictions_daily
    where usage_date between cast($start_date as date) and cast($end_date as date)
    group by usage_date, workload
),

gpu as (
    select
        usage_date,
        workload,
        sum(active_gpu_hours) / nullif(sum(observed_gpu_hours), 0) as eta,
        fsum(idle_cost) as idle_cost
    from gpu_efficiency_daily
    where usage_date between cast($start_date as date) and cast($end_date as date) and category = 'inference'
    group by usage_date, workload
),

joined as (
    select
        coalesce(c.usage_date, p.usage_date) as usage_date,
        coalesce(c.workload, p.workload) as workload,
        coalesce(p.predictions, 0) as predictions,
        coalesce(p.failed_requests, 0) as failed_requests,
        p.endpoints,
        coalesce(c.inference_cost, 0) as inference_cost,
        coalesce(c.loaded_cost, 0) as loaded_cost,
        coalesce(c.billing_currency, 'USD') as billing_currency
    from costs as c
    full outer join predictions as p on c.usage_date = p.usage_date and c.workload = p.workload
),

final as (
    select
        j.usage_date,
        j.workload,
        j.predictions,
        j.failed_requests,
        j.endpoints,
        j.inference_cost,
        j.loaded_cost,
        j.inference_cost / nullif(j.predictions, 0) as cost_per_prediction,
        1000 * j.inference_cost / nullif(j.predictions, 0) as cost_per_1k_predictions,
        j.loaded_cost / nullif(j.predictions, 0) as loaded_cost_per_prediction,
        1000 * j.loaded_cost / nullif(j.predictions, 0) as loaded_cost_per_1k_predictions,
        g.eta,
        g.idle_cost as inference_idle_gpu_cost,
        j.billing_currency
    from joined as j
    left join gpu as g on j.usage_date = g.usage_date and j.workload = g.workload
)

select * from final order by usage_date, workload
