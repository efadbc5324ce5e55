-- budget_status: each budget's month: actual cost so far and forecast month end against its amount.
-- Grain: one row per billing_period × budget (every budget of the budgets file, also when its scope had no cost).
-- A budget's scope matches cost_by_category_daily rows of its currency whose category and workload equal the
-- budget's (a scope field left out matches all). forecast_cost sums month_end_forecast's point forecasts of the
-- scope's rows (their intervals do not add up, so none is given here).
-- crossed_actual / crossed_forecast: the highest threshold (share of amount) the figure reached; NULL if none.
-- Reads: budgets (the validated file, registered), cost_by_category_daily, month_end_forecast (views).
-- Parameters: $billing_period (first day of the month).
with bounds as (
    select
        cast($billing_period as date) as month_start,
        cast(last_day(cast($billing_period as date)) as date) as month_end
),

actual as (
    select b.budget, fsum(c.effective_cost) as actual_cost, max(c.usage_date) as last_cost_day
    from budgets as b
    cross join bounds as m
    inner join cost_by_category_daily as c
        on
            c.usage_date between m.month_start and m.month_end
            and c.billing_currency = b.billing_currency
            and (b.category is null or c.category = b.category)
            and (b.workload is null or c.workload = b.workload)
    group by b.budget
),

forecast as (
    select b.budget, fsum(f.forecast_cost) as forecast_cost, max(f.as_of) as as_of
    from budgets as b
    inner join month_end_forecast as f
        on
            f.billing_period = cast($billing_period as date)
            and f.billing_currency = b.billing_currency
            and (b.category is null or f.category = b.category)
            and (b.workload is null or f.workload = b.workload)
    group by b.budget
),

joined as (
    select
        cast($billing_period as date) as billing_period,
        b.budget,
        b.scope,
        b.category,
        b.workload,
        b.billing_currency,
        b.amount,
        b.thresholds,
        f.as_of,
        coalesce(a.actual_cost, 0) as actual_cost,
        coalesce(f.forecast_cost, a.actual_cost, 0) as forecast_cost
    from budgets as b
    left join actual as a using (budget)
    left join forecast as f using (budget)
),

final as (
    select
        *,
        actual_cost / amount as actual_share,
        forecast_cost / amount as forecast_share,
        list_max(list_filter(thresholds, t -> actual_cost >= t * amount)) as crossed_actual,
        list_max(list_filter(thresholds, t -> forecast_cost >= t * amount)) as crossed_forecast
    from joined
)

select
    billing_period, budget, scope, category, workload, billing_currency, amount, thresholds, as_of,
    actual_cost, forecast_cost, actual_share, forecast_share, crossed_actual, crossed_forecast,
    case
        when crossed_actual is not null then 'actual crossed ' || cast(round(100 * crossed_actual) as integer) || ' %'
        when crossed_forecast is not null
            then 'forecast crosses ' || cast(round(100 * crossed_forecast) as integer) || ' %'
        else 'within'
    end as status
from final
order by budget
