-- check commitment_utilization.commitment_used_plus_unused: commitments whose cost as the bill's fee lines state it is not the used cost of
-- the usage they covered plus their unused cost, to the cent (covered usage or fee lines missing from a delivery).
-- One row per offending billing period × currency × commitment. Reads: commitment_utilization (view).
-- Parameters: $start_date, $end_date, $cent.
select
    billing_period,
    billing_currency,
    commitment_id,
    total_commitment_cost,
    used_commitment_cost,
    unused_commitment_cost,
    unexplained_cost
from commitment_utilization
where billing_period between cast($start_date as date) and cast($end_date as date)
    and abs(unexplained_cost) >= $cent
order by abs(unexplained_cost) desc
