-- Purpose: what we reported for each billing period at a past moment (as_of, UTC; default a week ago) against what line_items says now.
-- Set another moment first: SET VARIABLE as_of = TIMESTAMP '2026-11-20 09:00:00';
SET VARIABLE as_of = coalesce(
    CAST(getvariable('as_of') AS TIMESTAMP),
    CAST(timezone('UTC', now()) AS TIMESTAMP) - INTERVAL 7 DAY
);

WITH versions AS (
    -- Every version we still hold: the kept superseded ones, and the current one (superseded NULL).
    SELECT billing_period, superseded, delivery_id, billing_currency,
           count(*) AS lines, fsum(billed_cost) AS billed_cost, fsum(effective_cost) AS effective_cost
    FROM line_items_history
    GROUP BY ALL
    UNION ALL
    SELECT billing_period, CAST(NULL AS TIMESTAMP), delivery_id, billing_currency,
           count(*), fsum(billed_cost), fsum(effective_cost)
    FROM line_items
    GROUP BY ALL
),
reported AS (
    -- At as_of the current version was the first one superseded after it; none superseded since: today's.
    SELECT *
    FROM versions
    WHERE superseded IS NULL OR superseded > getvariable('as_of')
    QUALIFY dense_rank() OVER (PARTITION BY billing_period ORDER BY superseded ASC NULLS LAST) = 1
)
SELECT
    r.billing_period,
    getvariable('as_of') AS as_of,
    r.billing_currency,
    CASE WHEN r.superseded IS NULL THEN 'current' ELSE 'superseded' END AS reported_version,
    r.superseded,
    r.delivery_id AS reported_delivery_id,
    r.lines AS reported_lines,
    round(r.billed_cost, 2) AS reported_billed_cost,
    round(r.effective_cost, 2) AS reported_effective_cost,
    c.delivery_id AS current_delivery_id,
    c.lines AS current_lines,
    round(c.effective_cost, 2) AS current_effective_cost,
    round(c.effective_cost - r.effective_cost, 2) AS effective_change_since
FROM reported AS r
LEFT JOIN versions AS c
    ON c.superseded IS NULL AND c.billing_period = r.billing_period AND c.billing_currency = r.billing_currency
ORDER BY r.billing_period, r.billing_currency;
