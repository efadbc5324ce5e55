-- rule_coverage: which rules decided each billing period's effective cost, and what is left in `other`, by service:
-- the user sees at once which rules to add (a large `unmatched` or `focus-service-other` share names its services).
-- Grain: one row per billing_period × billing_currency × category × rule_id × service.
-- Reads: cost_attribution (view), direct rows only: spread rows re-allocate shared cost a rule already decided,
-- and the direct rows of a period add up to its effective cost. Parameters: $start_period, $end_period.
with direct as (
    select
        billing_period,
        billing_currency,
        category,
        rule_id,
        -- FOCUS ServiceName (or AWS's x_ServiceCode) / CUR product code; '(none)' for lines without one (tax).
        coalesce(service_code, '(none)') as service,
        effective_cost
    from cost_attribution
    where billing_period between cast($start_period as date) and cast($end_period as date)
        and allocation = 'direct'
),

by_service as (
    select
        billing_period,
        billing_currency,
        category,
        rule_id,
        service,
        count(*) as attribution_rows,
        fsum(effective_cost) as effective_cost
    from direct
    group by all
),

final as (
    select
        billing_period,
        billing_currency,
        category,
        rule_id,
        service,
        attribution_rows,
        effective_cost,
        -- Shares of the period's effective cost in the currency; NULL when that total is 0 (no denominator).
        effective_cost / nullif(fsum(effective_cost) over (partition by billing_period, billing_currency), 0)
            as share,
        fsum(effective_cost) over (partition by billing_period, billing_currency, rule_id)
        / nullif(fsum(effective_cost) over (partition by billing_period, billing_currency), 0) as rule_share
    from by_service
)

select * from final
order by billing_period, billing_currency, rule_id, effective_cost desc, service
