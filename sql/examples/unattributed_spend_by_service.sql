-- Purpose: usage spend no rule could give a workload (workload unattributed, shared cost aside), by service, per billing period.
SELECT
    billing_period,
    service_code,
    category,
    billing_currency,
    round(fsum(effective_cost), 2) AS effective_cost,
    round(fsum(billed_cost), 2) AS billed_cost,
    count(DISTINCT resource_id) AS resources,
    -- The rules that matched tell where to add a tag or a mapping.
    string_agg(DISTINCT rule_id, ', ' ORDER BY rule_id) AS rules
FROM cost_attribution
WHERE workload = 'unattributed' AND category <> 'shared'
GROUP BY ALL
ORDER BY billing_period DESC, effective_cost DESC;
