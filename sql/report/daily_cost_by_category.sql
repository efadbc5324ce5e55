-- daily_cost_by_category: effective cost per UTC day and category, this month and last (stacked bars, one panel
-- per month, so a day of this month sits above the same day of last month).
-- Reads: cost_by_category_daily. Parameters: $as_of (the report's last day; its month is "this month").
select
    usage_date,
    strftime(date_trunc('month', usage_date), '%Y-%m') as month,
    day(usage_date) as day_of_month,
    category,
    billing_currency,
    fsum(effective_cost) as effective_cost
from cost_by_category_daily
where usage_date between cast(date_trunc('month', cast($as_of as date)) - interval 1 month as date)
    and cast($as_of as date)
group by all
order by usage_date, category, billing_currency
