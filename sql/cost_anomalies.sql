-- cost_anomalies: days whose cost, cost per prediction or GPU efficiency departs from their own trailing history.
-- Grain: one row per usage_date × metric × scope × billing_currency that is flagged (no row: nothing unusual).
-- Three series (pipelines/decisions/anomalies.py documents the constants and why):
--   effective_cost       per workload × category (cost_by_category_daily); $ impact = value − baseline
--   cost_per_prediction  per workload, days with predictions (cost_per_prediction_daily);
--                        $ impact = (value − baseline) × that day's predictions (what the change cost that day)
--   eta                  per GPU resource, days with an η (gpu_efficiency_daily);
--                        $ impact = (baseline − value) × that day's GPU cost (the extra idle cost)
-- Baseline: median of the same series over the $window_days days before the day (the day itself excluded) of
-- the same kind (weekdays for a weekday, Saturdays and Sundays for a weekend day); spread: MAD over those days. robust_z = (value − median) / scale, scale = max(1.4826 × MAD,
-- $relative_floor × |median|): 1.4826 × MAD estimates a standard deviation robustly, and the relative floor keeps
-- a near-constant history (MAD 0) from turning every cent of drift into an infinite z. robust_z is NULL when the
-- scale is 0 (a history of zeros): then the $ floor alone decides.
-- A day is flagged when it has at least $min_history history days, |robust_z| ≥ $z_threshold (or NULL) and
-- |$ impact| ≥ $min_impact. A day with no row in the source table is not in the series (not a zero).
-- Reads: cost_by_category_daily, cost_per_prediction_daily, gpu_efficiency_daily, cost_attribution (views).
-- Parameters: $start_date, $end_date (inclusive UTC days flagged), $window_days, $min_history, $z_threshold,
-- $relative_floor, $min_impact.
with series as (
    select
        'effective_cost' as metric,
        'workload × category' as scope_kind,
        workload || ' / ' || category as scope,
        workload,
        category,
        cast(null as varchar) as resource_id,
        billing_currency,
        usage_date,
        fsum(effective_cost) as value,
        1.0 as weight,
        cast(null as double) as aux1,
        cast(null as double) as aux2,
        cast(null as varchar) as label
    from cost_by_category_daily
    where usage_date between cast($start_date as date) - cast($window_days as integer) and cast($end_date as date)
    group by all

    union all

    select
        'cost_per_prediction', 'workload', workload, workload, 'inference', null, billing_currency, usage_date,
        cost_per_prediction, predictions, predictions, inference_cost, null
    from cost_per_prediction_daily
    where
        usage_date between cast($start_date as date) - cast($window_days as integer) and cast($end_date as date)
        and predictions > 0 and cost_per_prediction is not null

    union all

    select
        'eta', 'resource', resource_id, workload, category, resource_id, null, usage_date,
        eta, -gpu_cost, gpu_cost, active_gpu_hours, instance_type
    from gpu_efficiency_daily
    where
        usage_date between cast($start_date as date) - cast($window_days as integer) and cast($end_date as date)
        and eta is not null
),

-- key: the series' identity (gpu_efficiency_daily has no currency column: its η rows have a NULL currency).
keyed as (
    select *, metric || '|' || scope || '|' || coalesce(billing_currency, '') as key from series
),

targets as (
    select * from keyed
    where usage_date between cast($start_date as date) and cast($end_date as date)
),

history as (
    select t.key, t.usage_date, h.value, h.aux1, h.aux2
    from targets as t
    inner join keyed as h
        on
            t.key = h.key
            and h.usage_date between t.usage_date - cast($window_days as integer) and t.usage_date - 1
            -- Weekdays are judged against weekdays and weekends against weekends: traffic and batch work follow
            -- the week, and a quiet Sunday is not an anomaly.
            and (isodow(h.usage_date) >= 6) = (isodow(t.usage_date) >= 6)
),

medians as (
    select
        key, usage_date,
        median(value) as baseline,
        median(aux1) as aux1_baseline,
        median(aux2) as aux2_baseline,
        count(*) as history_days
    from history
    group by all
),

spread as (
    select h.key, h.usage_date, median(abs(h.value - m.baseline)) as mad
    from history as h
    inner join medians as m using (key, usage_date)
    group by all
),

scored as (
    select
        t.*,
        m.baseline,
        s.mad,
        m.history_days,
        m.aux1_baseline,
        m.aux2_baseline,
        t.value - m.baseline as deviation,
        (t.value - m.baseline) / nullif(abs(m.baseline), 0) as deviation_pct,
        (t.value - m.baseline) * t.weight as dollar_impact,
        (t.value - m.baseline)
        / nullif(greatest(1.4826 * s.mad, cast($relative_floor as double) * abs(m.baseline)), 0) as robust_z
    from targets as t
    inner join medians as m using (key, usage_date)
    inner join spread as s using (key, usage_date)
),

flagged as (
    select * from scored
    where
        history_days >= cast($min_history as integer)
        and (robust_z is null or abs(robust_z) >= cast($z_threshold as double))
        and abs(dollar_impact) >= cast($min_impact as double)
),

-- The bill's side of a cost anomaly: per rule and service, the day's cost minus its mean over the history days
-- (the same kind of day, as the baseline).
contributions as (
    select
        f.usage_date, f.workload, f.category, f.billing_currency, f.dollar_impact, f.history_days,
        a.rule_id || ' (' || coalesce(a.service_code, '(none)') || ')' as contributor,
        fsum(a.effective_cost) filter (where a.usage_date = f.usage_date)
        - coalesce(fsum(a.effective_cost) filter (where a.usage_date < f.usage_date), 0) / f.history_days as delta
    from flagged as f
    inner join cost_attribution as a
        on
            f.metric = 'effective_cost' and a.workload = f.workload and a.category = f.category
            and a.billing_currency = f.billing_currency
            and a.usage_date between f.usage_date - cast($window_days as integer) and f.usage_date
            and (isodow(a.usage_date) >= 6) = (isodow(f.usage_date) >= 6)
    group by f.usage_date, f.workload, f.category, f.billing_currency, f.dollar_impact, f.history_days, contributor
),

ranked as (
    select
        *,
        row_number() over (
            partition by usage_date, workload, category, billing_currency
            order by sign(dollar_impact) * coalesce(delta, 0) desc, contributor
        ) as rank
    from contributions
),

contributors as (
    select
        usage_date, workload, category, billing_currency,
        string_agg(contributor || ' ' || printf('%+.2f', coalesce(delta, 0)), '; ' order by rank) as top_contributors
    from ranked
    where rank <= 3
    group by all
),

final as (
    select
        f.usage_date,
        f.metric,
        f.scope_kind,
        f.scope,
        f.workload,
        f.category,
        f.resource_id,
        f.billing_currency,
        f.value,
        f.baseline,
        f.mad,
        f.history_days,
        f.deviation,
        f.deviation_pct,
        f.dollar_impact,
        f.robust_z,
        case when f.deviation > 0 then 'up' else 'down' end as direction,
        case f.metric
            when 'effective_cost' then c.top_contributors
            when 'cost_per_prediction' then
                printf('predictions %.0f (baseline %.0f); inference cost %.2f (baseline %.2f)',
                    f.aux1, f.aux1_baseline, f.aux2, f.aux2_baseline)
            else
                printf('%s, GPU cost %.2f (baseline %.2f); active GPU hours %.2f (baseline %.2f)',
                    coalesce(f.label, 'instance type unknown'), f.aux1, f.aux1_baseline, f.aux2, f.aux2_baseline)
        end as top_contributors
    from flagged as f
    left join contributors as c
        on
            f.metric = 'effective_cost' and c.usage_date = f.usage_date and c.workload = f.workload
            and c.category = f.category and c.billing_currency = f.billing_currency
)

select * from final order by usage_date, abs(dollar_impact) desc, metric, scope
