-- recommendations: GPU resources that idled most of the last $window_days days, with the monthly saving of
-- stopping, scheduling or right-sizing them. One row per billing_period × resource below the η threshold.
-- Window: the $window_days days ending at as_of, the period's last day with a row in gpu_efficiency_daily.
-- η over the window = Σ active / Σ observed GPU hours (the days' ηs weighted by their GPU time, never a mean of
-- ratios); idle cost = Σ idle_cost of the days with an η (gpu_cost × (1 − η)). With MLCOST_ETA_BASIS=observed,
-- unobserved GPU time is not counted as idle: the saving is a floor, and confidence says how much was observed.
-- monthly_saving = idle cost over the window × 30 / $window_days (the window's average idle day, 30 days a month).
-- confidence: high when coverage ≥ 0.9 on every window day, medium when coverage ≥ 0.5, else low.
-- Reads: gpu_efficiency_daily (view). Parameters: $billing_period, $window_days, $eta_threshold, $min_saving.
with bounds as (
    select max(usage_date) as as_of
    from gpu_efficiency_daily
    where usage_date between cast($billing_period as date) and last_day(cast($billing_period as date))
),

window_rows as (
    select g.*
    from gpu_efficiency_daily as g, bounds as b
    where g.usage_date between b.as_of - (cast($window_days as integer) - 1) and b.as_of
),

per_resource as (
    select
        resource_id,
        string_agg(distinct workload, ', ' order by workload) as workload,
        string_agg(distinct category, ', ' order by category) as category,
        any_value(instance_type) as instance_type,
        count(*) as days_billed,
        count(eta) as days_observed,
        sum(allocated_gpu_hours) as allocated_gpu_hours,
        sum(observed_gpu_hours) as observed_gpu_hours,
        sum(active_gpu_hours) as active_gpu_hours,
        sum(active_gpu_hours) / nullif(sum(observed_gpu_hours), 0) as eta,
        least(sum(observed_gpu_hours) / nullif(sum(allocated_gpu_hours), 0), 1) as coverage,
        min(coverage) as min_day_coverage,
        sum(gpu_cost) as gpu_cost,
        sum(idle_cost) as idle_cost
    from window_rows
    group by resource_id
),

final as (
    select
        cast($billing_period as date) as billing_period,
        b.as_of,
        'idle_gpu' as kind,
        p.resource_id,
        p.workload,
        p.category,
        p.instance_type,
        cast($window_days as integer) as window_days,
        p.days_billed,
        p.eta,
        p.coverage,
        p.gpu_cost,
        p.idle_cost,
        p.idle_cost * 30 / cast($window_days as double) as monthly_saving,
        case
            when p.eta < 0.05 then 'stop it, or schedule it off when unused'
            else 'right-size (a smaller instance) or share it (MIG, more models per GPU)'
        end as action,
        case
            when p.min_day_coverage >= 0.9 and p.days_observed = cast($window_days as integer) then 'high'
            when p.coverage >= 0.5 then 'medium'
            else 'low'
        end as confidence,
        printf(
            'η %.3f over %d day(s) to %s (%.1f active of %.1f observed GPU hours, coverage %.0f%%); idle cost %.2f',
            p.eta, p.days_billed, strftime(b.as_of, '%Y-%m-%d'), p.active_gpu_hours, p.observed_gpu_hours,
            100 * p.coverage, p.idle_cost
        ) as evidence,
        printf('idle cost %.2f × 30 / %d days', p.idle_cost, cast($window_days as integer)) as computed_as
    from per_resource as p, bounds as b
    where p.eta < cast($eta_threshold as double) and p.idle_cost * 30 / cast($window_days as double) >= cast($min_saving as double)
)

select * from final order by monthly_saving desc, resource_id
