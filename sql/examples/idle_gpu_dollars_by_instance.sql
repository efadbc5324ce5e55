-- Purpose: top idle-GPU dollars by instance and workload over the last 7 days of data (unobserved spend shown apart).
WITH latest AS (
    SELECT max(usage_date) AS day FROM gpu_efficiency_daily
)
SELECT
    g.resource_id,
    g.workload,
    g.category,
    g.instance_type,
    min(g.usage_date) AS first_day,
    max(g.usage_date) AS last_day,
    round(fsum(g.idle_cost), 2) AS idle_cost,
    round(fsum(g.gpu_cost), 2) AS gpu_cost,
    round(fsum(g.unobserved_cost), 2) AS unobserved_cost,
    -- η over the window weights each day by its GPU hours: a ratio of sums, not an average of ratios.
    round(sum(g.active_gpu_hours) / nullif(sum(g.observed_gpu_hours), 0), 3) AS eta,
    round(sum(g.observed_gpu_hours) / nullif(sum(g.allocated_gpu_hours), 0), 3) AS coverage
FROM gpu_efficiency_daily AS g, latest
WHERE g.usage_date > latest.day - 7
GROUP BY ALL
ORDER BY idle_cost DESC NULLS LAST, unobserved_cost DESC
LIMIT 20;
