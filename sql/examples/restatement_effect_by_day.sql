-- Purpose: what the latest restatement of each billing period changed, per usage day: the superseded version against line_items now.
WITH previous AS (
    -- The version each period's current delivery replaced: its newest superseded one.
    SELECT h.*
    FROM line_items_history AS h
    WHERE h.superseded = (SELECT max(x.superseded) FROM line_items_history AS x WHERE x.billing_period = h.billing_period)
),
before AS (
    SELECT billing_period, usage_date, billing_currency,
           count(*) AS lines, fsum(billed_cost) AS billed_cost, fsum(effective_cost) AS effective_cost
    FROM previous
    GROUP BY ALL
),
after AS (
    SELECT billing_period, usage_date, billing_currency,
           count(*) AS lines, fsum(billed_cost) AS billed_cost, fsum(effective_cost) AS effective_cost
    FROM line_items
    WHERE billing_period IN (SELECT p.billing_period FROM previous AS p)
    GROUP BY ALL
),
versions AS (
    SELECT p.billing_period, max(p.superseded) AS superseded, any_value(p.delivery_id) AS delivery_before,
           (SELECT any_value(l.delivery_id) FROM line_items AS l WHERE l.billing_period = p.billing_period)
               AS delivery_after
    FROM previous AS p
    GROUP BY p.billing_period
)
SELECT
    coalesce(a.billing_period, b.billing_period) AS billing_period,
    coalesce(a.usage_date, b.usage_date) AS usage_date,
    coalesce(a.billing_currency, b.billing_currency) AS billing_currency,
    v.superseded,
    coalesce(b.lines, 0) AS lines_before,
    coalesce(a.lines, 0) AS lines_after,
    round(coalesce(b.billed_cost, 0), 2) AS billed_before,
    round(coalesce(a.billed_cost, 0), 2) AS billed_after,
    round(coalesce(a.billed_cost, 0) - coalesce(b.billed_cost, 0), 2) AS billed_change,
    round(coalesce(b.effective_cost, 0), 2) AS effective_before,
    round(coalesce(a.effective_cost, 0), 2) AS effective_after,
    round(coalesce(a.effective_cost, 0) - coalesce(b.effective_cost, 0), 2) AS effective_change,
    v.delivery_before,
    v.delivery_after
FROM after AS a
FULL OUTER JOIN before AS b
    ON a.billing_period = b.billing_period AND a.usage_date = b.usage_date AND a.billing_currency = b.billing_currency
JOIN versions AS v ON v.billing_period = coalesce(a.billing_period, b.billing_period)
ORDER BY billing_period DESC, usage_date, billing_currency;
