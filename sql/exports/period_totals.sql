-- period_totals: the bill's totals of one billing period per currency, and the delivery they came from: what an
-- export's sums must equal. Reads: line_items (view). Parameters: $period.
select
    billing_currency,
    fsum(billed_cost) as billed_cost,
    fsum(effective_cost) as effective_cost,
    string_agg(distinct delivery_id, ', ' order by delivery_id) as delivery_id
from line_items
where billing_period = cast($period as date)
group by billing_currency
order by billing_currency
