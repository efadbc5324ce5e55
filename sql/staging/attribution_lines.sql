-- staging/attribution_lines: the lines of line_items that cost_attribution.sql needs for the days
-- first_day..last_day, as a table macro: `from attribution_lines($start_date, $end_date, $spreading)`.
-- Grain: one row per line of line_items. Reads: line_items (a view over the lake, or the lines a short run kept in
-- memory: pipelines/attribution/compute.py). Defined once, here, because both read it: the attribution query
-- itself, and a short run that keeps these lines in a temp table with one pass over their billing period.
--
-- The lines of the billing periods the days fall in that can land on one of the days, in three disjoint parts:
--   1. lines whose charge period overlaps the days (every line with a time inside the days lands there);
--   2. lines starting on one of the days that part 1 lacks (zero length, end before start, no end): a line with
--      no time inside its billing period lands whole on its start day when that is in the period;
--   3. lines that land on their billing period's first day (no start, or a start outside the period: a late line
--      for another period), when that day is one of the days.
-- Each part's conditions are plain comparisons of one column with a value, so DuckDB tests them against each row
-- group's min/max statistics: line_items is written clustered by usage day (sorted, or as delivered when the export's
-- own order already groups days: pipelines/billing/ingest.py), so a
-- one-day rerun reads the row groups of that day (and of lines spanning it), not the month's (docs/benchmarks.md).
-- With `whole_period` (a sharing strategy spreads cost by the billing period's weights), every line of the
-- billing periods (part 1 only).
create or replace temp macro attribution_lines(first_day, last_day, whole_period) as table
select * from line_items
where billing_period between date_trunc('month', cast(first_day as date)) and cast(last_day as date)
    and (
        whole_period
        or (
            charge_period_end > cast(first_day as timestamp)
            and charge_period_start < cast(last_day as timestamp) + interval 1 day
        )
    )
union all
select * from line_items
where billing_period between date_trunc('month', cast(first_day as date)) and cast(last_day as date)
    and not whole_period
    and charge_period_start >= cast(first_day as timestamp)
    and charge_period_start < cast(last_day as timestamp) + interval 1 day
    -- Not in part 1: its start is inside the days, so only an end at or before the first day (or none) is left.
    and not coalesce(charge_period_end > cast(first_day as timestamp), false)
union all
select * from line_items
where billing_period between cast(first_day as date) and cast(last_day as date)
    and not whole_period
    and (
        charge_period_start is null
        or charge_period_start < cast(billing_period as timestamp)
        or charge_period_start >= cast(billing_period + interval 1 month as timestamp)
    )
    -- Implied by the condition above for billing periods between first_day and last_day, but with constants only,
    -- so DuckDB can skip row groups whose starts all lie inside the periods (every one of them, in a month of
    -- well-formed lines) instead of reading the start and period columns of the whole month: 4.7 s -> 0.2 s for
    -- that scan on the 300M-line month (docs/benchmarks.md, section 11).
    and (
        charge_period_start is null
        or charge_period_start < cast(last_day as timestamp)
        or charge_period_start >= date_trunc('month', cast(first_day as date)) + interval 1 month
    )
    -- Not in part 1 (an end inside the days) nor in part 2 (a start inside them).
    and not coalesce(
        charge_period_end > cast(first_day as timestamp)
        and charge_period_start < cast(last_day as timestamp) + interval 1 day,
        false
    )
    and not coalesce(
        charge_period_start >= cast(first_day as timestamp)
        and charge_period_start < cast(last_day as timestamp) + interval 1 day,
        false
    )
