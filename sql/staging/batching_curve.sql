-- staging/batching_curve: what a workload's inference would cost at batch sizes 1..64, from the measured days
-- first_day..last_day, as a table macro: `from batching_curve($first_day, $last_day, $marginal_share)`.
-- Grain: one row per workload × batch size. Defined once, here, because the batching recommendation
-- (sql/recommendations.sql) and `mlcost whatif batch` (pipelines/decisions/whatif.py) both read it.
-- The seed's model: C_infer = R / B × t(B) × c_gpu/h / η: R predictions in batches of B, each batch busy on a GPU
-- for t(B), at c_gpu/h per GPU hour, the GPUs busy a share η of the time they are paid for.
-- Measured (the window's sums): R = predictions, invocations (batches), B₀ = R / successful invocations,
-- active and observed GPU hours and GPU cost of the workload's inference resources; c_gpu/h = GPU cost / observed
-- GPU hours and η = active / observed, so R / B₀ × t(B₀) × c_gpu/h / η = the measured GPU cost (t(B₀) = active
-- GPU hours / invocations, converted to ms).
-- Assumed (docs/recommendations.md): t(B) = t(B₀) × (1 + m (B − 1)) / (1 + m (B₀ − 1)): a batch costs a fixed part
-- plus m of a single request's time for each further request; m = marginal_share. η stays what it was.
-- Hence cost(B) = measured GPU cost × (t(B) / B) / (t(B₀) / B₀).
-- Reads: gpu_efficiency_daily, predictions_daily (views).
create or replace temp macro batching_curve(first_day, last_day, marginal_share) as table
with gpu as (
    select
        workload,
        count(distinct usage_date) as gpu_days,
        fsum(gpu_cost) as gpu_cost,
        sum(active_gpu_hours) as active_gpu_hours,
        sum(observed_gpu_hours) as observed_gpu_hours,
        string_agg(distinct resource_id, ', ' order by resource_id) as resources,
        string_agg(distinct instance_type, ', ' order by instance_type) as instance_type
    from gpu_efficiency_daily
    where usage_date between cast(first_day as date) and cast(last_day as date)
        and category = 'inference' and eta is not null
    group by workload
),

traffic as (
    select
        workload,
        sum(predictions) as predictions,
        sum(invocations) as invocations,
        sum(invocations - coalesce(failed_requests, 0)) as successful_invocations
    from predictions_daily
    where usage_date between cast(first_day as date) and cast(last_day as date)
    group by workload
),

measured as (
    select
        g.*,
        t.predictions,
        t.invocations,
        g.active_gpu_hours / nullif(g.observed_gpu_hours, 0) as eta,
        -- B₀: predictions per successful invocation; t(B₀): GPU time per invocation, failed ones included.
        t.predictions / nullif(t.successful_invocations, 0) as current_batch,
        3600000.0 * g.active_gpu_hours / nullif(t.invocations, 0) as current_latency_ms
    from gpu as g
    inner join traffic as t using (workload)
    where t.predictions > 0 and t.successful_invocations > 0 and g.active_gpu_hours > 0
)

-- marginal_share is the macro's parameter, not a column: sqlfluff cannot tell them apart.
select  -- noqa: disable=RF02
    m.*,
    b.batch_size,
    m.current_latency_ms * (1 + cast(marginal_share as double) * (b.batch_size - 1))
    / (1 + cast(marginal_share as double) * (m.current_batch - 1)) as latency_ms,
    m.gpu_cost
    * ((1 + cast(marginal_share as double) * (b.batch_size - 1)) / b.batch_size)
    / ((1 + cast(marginal_share as double) * (m.current_batch - 1)) / m.current_batch) as cost,
    1000 * m.gpu_cost
    * ((1 + cast(marginal_share as double) * (b.batch_size - 1)) / b.batch_size)
    / ((1 + cast(marginal_share as double) * (m.current_batch - 1)) / m.current_batch)
    / m.predictions as cost_per_1k
from measured as m, (select unnest(generate_series(1, 64)) as batch_size) as b
