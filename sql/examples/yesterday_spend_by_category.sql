-- Purpose: yesterday's spend by category (yesterday = the latest usage_date in the data), against the day before.
WITH latest AS (
    SELECT max(usage_date) AS day FROM cost_by_category_daily
),
by_day AS (
    SELECT c.usage_date, c.category, c.billing_currency,
           fsum(c.effective_cost) AS effective_cost,
           fsum(c.billed_cost) AS billed_cost
    FROM cost_by_category_daily AS c, latest
    WHERE c.usage_date BETWEEN latest.day - 1 AND latest.day
    GROUP BY ALL
)
SELECT
    latest.day AS usage_date,
    t.category,
    t.billing_currency,
    round(t.effective_cost, 2) AS effective_cost,
    round(t.billed_cost, 2) AS billed_cost,
    round(100 * t.effective_cost / fsum(t.effective_cost) OVER (PARTITION BY t.billing_currency), 1) AS pct_of_day,
    round(coalesce(d.effective_cost, 0), 2) AS day_before_effective_cost,
    round(t.effective_cost - coalesce(d.effective_cost, 0), 2) AS change
FROM latest
JOIN by_day AS t ON t.usage_date = latest.day
LEFT JOIN by_day AS d
    ON d.usage_date = latest.day - 1 AND d.category = t.category AND d.billing_currency = t.billing_currency
ORDER BY t.billing_currency, t.effective_cost DESC;
