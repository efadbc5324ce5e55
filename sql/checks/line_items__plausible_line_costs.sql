-- check line_items.plausible_line_costs: billing lines whose cost is too large to believe (a warning: the line is published).
-- A line is flagged when its billed or effective cost is above $max_line_cost in its currency, or when it is
-- above $min_flagged_cost and above $rest_factor times the absolute total of the rest of its billing period and
-- currency (a 1e300 typo, a value written in cents or with a misplaced decimal point).
-- Grain: one row per flagged line. Parameters: $start_date, $end_date (billing periods), the bounds above
-- (pipelines/billing/plausibility.py, documented in docs/ingestion.md).
-- `lines` is read twice (the totals, then the filter), not materialized: a materialized copy of a 300M-line
-- month spilled over 13 GB to disk.
with lines as not materialized (
    select
        source_file,
        source_row,
        billing_period,
        billing_currency,
        line_item_type,
        billed_cost,
        effective_cost,
        greatest(abs(billed_cost), abs(effective_cost)) as amount
    from line_items
    where billing_period between $start_date and $end_date
),

totals as (
    select
        billing_period,
        billing_currency,
        sum(amount) as period_amount
    from lines
    group by all
),

final as (
    select
        lines.source_file,
        lines.source_row,
        lines.billing_period,
        lines.billing_currency,
        lines.line_item_type,
        lines.billed_cost,
        lines.effective_cost,
        totals.period_amount - lines.amount as rest_of_period
    from lines
    inner join totals using (billing_period, billing_currency)
    where
        lines.amount > $max_line_cost
        or (
            lines.amount > $min_flagged_cost
            and lines.amount > $rest_factor * (totals.period_amount - lines.amount)
        )
)

select * from final
order by billing_period, billing_currency, greatest(abs(billed_cost), abs(effective_cost)) desc
