-- staging/attribution_lines: the lines of line_items that cost_attribution.sql needs for the days
-- first_day..last_day, as a table macro: `from attribution_lines($start_date, $end_date, $spreading)`.
-- Grain: one row per line of line_items. Reads: line_items (a view over the lake, or the lines a short run kept in
-- memory: pipelines/attribution/compute.py). Defined once, here, because both read it: the attribution query
-- itself, and a short run that keeps these lines in a temp table with one pass over their billing period.
--
-- The lines of the billing periods the days fall in that can land on one of the days: those whose charge period
-- overlaps them, and those with no time inside their billing period (zero length, or a late line for another
-- period), which cost_attribution.sql places on a fallback day. With `whole_period` (a sharing strategy spreads
-- cost by the billing period's weights), every line of the billing periods.
create or replace temp macro attribution_lines(first_day, last_day, whole_period) as table
select * from line_items
where billing_period between date_trunc('month', cast(first_day as date)) and cast(last_day as date)
    and (
        whole_period
        or (
            charge_period_end > cast(first_day as timestamp)
            and charge_period_start < cast(last_day as timestamp) + interval 1 day
        )
        or not (charge_period_end > charge_period_start)
        -- A line without a start or end (an empty UsageEndDate) is not dropped: it lands on its fallback day.
        or charge_period_end is null
        or charge_period_start is null
        or charge_period_end <= cast(billing_period as timestamp)
        or charge_period_start >= cast(billing_period + interval 1 month as timestamp)
    )
