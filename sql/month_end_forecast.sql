-- month_end_forecast: where each category × workload's cost will end the month, from its month-to-date cost.
-- Grain: one row per billing_period × category × workload × billing_currency with cost in the month up to as_of.
-- Method (docs/decisions.md): forecast = month-to-date cost + daily rate × days remaining, the daily rate being
-- the mean of the last $trailing_days days up to as_of (fewer early in the month: the days elapsed); a day with no
-- row counts as 0, because cost_by_category_daily has a row only where there was cost.
-- Interval: ± $interval_z × s × sqrt(R + R² / n), s the sample standard deviation of those n days and R the days
-- remaining: the spread of R more days like them, plus the uncertainty of their mean. NULL when n < 2.
-- as_of: $as_of, else the last day of the month with cost in cost_by_category_daily (a whole month: R = 0).
-- Reads: cost_by_category_daily (view). Parameters: $billing_period (first day of the month), $as_of (or NULL),
-- $trailing_days, $interval_z.
with bounds as (
    select
        cast($billing_period as date) as month_start,
        cast(last_day(cast($billing_period as date)) as date) as month_end
),

cut as (
    select
        b.month_start,
        b.month_end,
        least(
            coalesce(cast($as_of as date), max(c.usage_date)), b.month_end
        ) as as_of
    from bounds as b
    left join cost_by_category_daily as c on c.usage_date between b.month_start and b.month_end
    group by b.month_start, b.month_end
),

window_days as (
    select
        *,
        day(month_end) as days_in_month,
        day(as_of) as days_elapsed,
        day(month_end) - day(as_of) as days_remaining,
        least(cast($trailing_days as integer), day(as_of)) as trailing_days
    from cut
    where as_of is not null and as_of >= month_start
),

month_to_date as (
    select c.category, c.workload, c.billing_currency, fsum(c.effective_cost) as mtd_cost
    from cost_by_category_daily as c, window_days as w
    where c.usage_date between w.month_start and w.as_of
    group by c.category, c.workload, c.billing_currency
),

calendar as (
    select cast(g.d as date) as usage_date
    from window_days as w, generate_series(cast(w.as_of - cast(w.trailing_days - 1 as integer) as timestamp), cast(w.as_of as timestamp), interval 1 day) as g (d)
),

recent as (
    select m.category, m.workload, m.billing_currency, k.usage_date, coalesce(fsum(c.effective_cost), 0) as cost
    from month_to_date as m
    cross join calendar as k
    left join cost_by_category_daily as c
        on
            c.usage_date = k.usage_date and c.category = m.category and c.workload = m.workload
            and c.billing_currency = m.billing_currency
    group by m.category, m.workload, m.billing_currency, k.usage_date
),

rates as (
    select
        category,
        workload,
        billing_currency,
        avg(cost) as daily_rate,
        -- On days scaled by the series' largest: DuckDB's stddev_samp raises an error (not Infinity) past about
        -- 1e154, and a bill may carry an implausible 1e300 line (published with a warning, docs/ingestion.md).
        stddev_samp(cost / greatest(max_abs_cost, 1e-300)) * any_value(max_abs_cost) as daily_stddev
    from (
        select *, max(abs(cost)) over (partition by category, workload, billing_currency) as max_abs_cost
        from recent
    )
    group by category, workload, billing_currency
),

final as (
    select
        w.month_start as billing_period,
        w.as_of,
        m.category,
        m.workload,
        m.billing_currency,
        w.days_in_month,
        w.days_elapsed,
        w.days_remaining,
        w.trailing_days,
        m.mtd_cost,
        r.daily_rate,
        r.daily_stddev,
        m.mtd_cost + r.daily_rate * w.days_remaining as forecast_cost,
        cast($interval_z as double) * r.daily_stddev
        * sqrt(w.days_remaining + w.days_remaining * w.days_remaining / w.trailing_days) as half_width
    from month_to_date as m
    inner join rates as r using (category, workload, billing_currency)
    cross join window_days as w
)

select
    * exclude (half_width),
    forecast_cost - half_width as forecast_low,
    forecast_cost + half_width as forecast_high
from final
order by billing_currency, forecast_cost desc, category, workload
