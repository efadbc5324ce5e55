-- check budget_status.budget_thresholds_crossed: budgets whose month-to-date cost or month-end forecast reached a threshold
-- (a warning naming the budget's scope and figures). One row per budget and billing period.
-- Parameters: $start_date, $end_date (the billing periods checked, first days of months).
select
    billing_period, budget, scope, billing_currency, amount, actual_cost, forecast_cost, actual_share,
    forecast_share, status
from budget_status
where billing_period between $start_date and $end_date and (crossed_actual is not null or crossed_forecast is not null)
order by billing_period, budget
