-- Purpose: month-to-date spend by category against the same days of last month and last month's total.
WITH latest AS (
    SELECT max(usage_date) AS day, CAST(date_trunc('month', max(usage_date)) AS DATE) AS month_start
    FROM cost_by_category_daily
),
windows AS (
    SELECT
        day,
        month_start,
        CAST(month_start - INTERVAL 1 MONTH AS DATE) AS last_month_start,
        -- Same day of last month, clamped to its end (31 October -> 30 September).
        CAST(day - INTERVAL 1 MONTH AS DATE) AS last_month_same_day
    FROM latest
)
SELECT
    c.category,
    c.billing_currency,
    w.month_start,
    w.day AS through,
    round(fsum(c.effective_cost) FILTER (WHERE c.usage_date >= w.month_start), 2) AS month_to_date,
    round(fsum(c.effective_cost) FILTER (WHERE c.usage_date BETWEEN w.last_month_start AND w.last_month_same_day), 2)
        AS last_month_to_same_day,
    round(fsum(c.effective_cost) FILTER (WHERE c.usage_date < w.month_start), 2) AS last_month_total,
    round(100 * (fsum(c.effective_cost) FILTER (WHERE c.usage_date >= w.month_start)
        / nullif(fsum(c.effective_cost) FILTER (WHERE c.usage_date BETWEEN w.last_month_start AND w.last_month_same_day), 0)
        - 1), 1) AS pct_change
FROM cost_by_category_daily AS c, windows AS w
WHERE c.usage_date BETWEEN w.last_month_start AND w.day
GROUP BY ALL
ORDER BY c.billing_currency, month_to_date DESC NULLS LAST;
