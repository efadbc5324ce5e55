-- Purpose: cost per 1,000 predictions per model and day, with its 7-day rolling value and the change week over week.
WITH daily AS (
    SELECT
        usage_date,
        workload,
        predictions,
        inference_cost,
        cost_per_1k_predictions,
        -- Rolling ratio of sums: a quiet day does not weigh as much as a busy one.
        1000 * fsum(inference_cost) OVER w7 / nullif(sum(predictions) OVER w7, 0) AS cost_per_1k_7d
    FROM cost_per_prediction_daily
    WHERE workload IN (SELECT p.workload FROM cost_per_prediction_daily AS p WHERE p.predictions > 0)
    WINDOW w7 AS (PARTITION BY workload, billing_currency ORDER BY usage_date
                  RANGE BETWEEN INTERVAL 6 DAYS PRECEDING AND CURRENT ROW)
)
SELECT
    d.usage_date,
    d.workload,
    d.predictions,
    round(d.inference_cost, 2) AS inference_cost,
    round(d.cost_per_1k_predictions, 4) AS cost_per_1k_predictions,
    round(d.cost_per_1k_7d, 4) AS cost_per_1k_7d,
    round(100 * (d.cost_per_1k_7d / w.cost_per_1k_7d - 1), 1) AS pct_change_vs_week_before
FROM daily AS d
LEFT JOIN daily AS w ON w.workload = d.workload AND w.usage_date = d.usage_date - 7
ORDER BY d.workload, d.usage_date;
