-- cost_attribution: every dollar of line_items, per line and UTC day, with its category, workload and rule_id.
-- Grain: one row per line and day it covers (a line spanning several days, such as a monthly fee, is split by the
-- seconds of each day inside its billing period); shared cost spread by a strategy gives one row per receiving
-- category × workload, with rule_id 'spread:<rule>'. A line entirely outside its billing period (a late credit)
-- is placed on the first day of its billing period, so every day belongs to exactly one billing period.
-- Reads: line_items (view), attribution_rules, workload_mappings, sharing_strategies (pipelines/attribution/rules.py).
-- Parameters: $start_date, $end_date (inclusive UTC days), $tag_keys (VARCHAR[]), $sagemaker_names (BOOLEAN),
-- $whole_periods (BOOLEAN: some shared kind is spread, so the billing periods' weights need every line).
with lines as (
    select
        *,
        -- Rules see a handful of columns: classify each distinct combination once, not every line.
        hash(
            usage_type, service_code, product_family, operation, line_item_type, charge_category,
            resource_id, charge_description, commitment_id, tags
        ) as rule_key
    from line_items
    where billing_period between date_trunc('month', cast($start_date as date)) and cast($end_date as date)
        -- Only the lines that can land on the run's days, unless a sharing strategy needs the whole billing
        -- period's weights: a one-day rerun then costs about a day's work, not a month's.
        and (
            $whole_periods
            or (
                charge_period_end > cast($start_date as timestamp)
                and charge_period_start < cast($end_date as timestamp) + interval 1 day
            )
            or not (charge_period_end > charge_period_start)
            or charge_period_end <= cast(billing_period as timestamp)
            or charge_period_start >= cast(billing_period + interval 1 month as timestamp)
        )
),

rule_inputs as (
    select distinct on (rule_key)
        rule_key, usage_type, service_code, product_family, operation, line_item_type, charge_category,
        resource_id, charge_description, commitment_id, tags
    from lines
),

classified as (
    select
        k.rule_key,
        r.rule_id,
        r.category,
        r.shared_kind
    from rule_inputs as k
    inner join attribution_rules as r
        on (r.usage_type is null or regexp_matches(coalesce(k.usage_type, ''), r.usage_type))
        and (r.service_code is null or regexp_matches(coalesce(k.service_code, ''), r.service_code))
        and (r.product_family is null or regexp_matches(coalesce(k.product_family, ''), r.product_family))
        and (r.operation is null or regexp_matches(coalesce(k.operation, ''), r.operation))
        and (r.line_item_type is null or regexp_matches(coalesce(k.line_item_type, ''), r.line_item_type))
        and (r.charge_category is null or regexp_matches(coalesce(k.charge_category, ''), r.charge_category))
        and (r.resource_id is null or regexp_matches(coalesce(k.resource_id, ''), r.resource_id))
        and (
            r.charge_description is null
            or regexp_matches(coalesce(k.charge_description, ''), r.charge_description)
        )
        and (r.commitment_id is null or regexp_matches(coalesce(k.commitment_id, ''), r.commitment_id))
        and (r.tag_key is null or regexp_matches(coalesce(k.tags[r.tag_key], ''), r.tag_pattern))
    qualify row_number() over (partition by k.rule_key order by r.priority, r.rule_id) = 1
),

workloads as (
    select
        k.rule_key,
        coalesce(
            list_filter(list_transform($tag_keys, t -> k.tags[t]), v -> v is not null and v <> '')[1],
            (
                select m.workload from workload_mappings as m
                where regexp_matches(coalesce(k.resource_id, ''), m.pattern)
                order by m.position limit 1
            ),
            case
                when $sagemaker_names then nullif(lower(regexp_extract(
                    k.resource_id, ':(endpoint|training-job|transform-job|inference-component)/([^/]+)$', 2
                )), '')
            end,
            'unattributed'
        ) as workload
    from rule_inputs as k
),

spans as (
    select
        l.*,
        c.rule_id,
        c.category,
        c.shared_kind,
        w.workload,
        greatest(l.charge_period_start, cast(l.billing_period as timestamp)) as span_start,
        least(l.charge_period_end, cast(l.billing_period + interval 1 month as timestamp)) as span_end
    from lines as l
    inner join classified as c on l.rule_key = c.rule_key
    inner join workloads as w on l.rule_key = w.rule_key
),

line_days as (
    -- The common case: an hourly or daily line inside one day.
    select *, cast(span_start as date) as day, 1.0 as fraction, false as multi_day
    from spans
    where span_end > span_start and cast(span_start as date) = cast(span_end - interval 1 microsecond as date)
    union all by name
    -- A line over several days: each day gets its share of the seconds.
    select
        s.*,
        cast(d.day_start as date) as day,
        (epoch(least(s.span_end, d.day_start + interval 1 day)) - epoch(greatest(s.span_start, d.day_start)))
        / (epoch(s.span_end) - epoch(s.span_start)) as fraction,
        true as multi_day
    from spans as s
    cross join unnest(range(date_trunc('day', s.span_start), s.span_end, interval 1 day)) as d (day_start)
    where s.span_end > s.span_start and cast(s.span_start as date) <> cast(s.span_end - interval 1 microsecond as date)
    union all by name
    -- No time inside its billing period (zero length, or a late line for another period).
    select
        *,
        case
            when charge_period_start >= billing_period and charge_period_start < billing_period + interval 1 month
                then cast(charge_period_start as date)
            else billing_period
        end as day,
        1.0 as fraction,
        false as multi_day
    from spans
    where not (span_end > span_start)
),

with_strategy as (
    select
        d.*,
        coalesce(s.strategy, 'keep') as strategy
    from line_days as d
    left join sharing_strategies as s on d.shared_kind = s.shared_kind
),

-- Who receives spread shared cost: the other categories' positive effective cost, per day and per billing period.
receivers_day as (
    select
        day as scope_day, billing_currency, category as to_category, workload as to_workload,
        sum(effective_cost * fraction) as weight
    from with_strategy where category <> 'shared'
    group by all having sum(effective_cost * fraction) > 0
),

receivers_period as (
    select
        billing_period as scope_period, billing_currency, category as to_category, workload as to_workload,
        sum(effective_cost * fraction) as weight
    from with_strategy where category <> 'shared'
    group by all having sum(effective_cost * fraction) > 0
),

shares_day as (
    select
        *,
        weight / sum(weight) over (partition by scope_day, billing_currency) as proportional_share,
        1.0 / count(*) over (partition by scope_day, billing_currency) as even_share
    from receivers_day
),

shares_period as (
    select
        *,
        weight / sum(weight) over (partition by scope_period, billing_currency) as proportional_share,
        1.0 / count(*) over (partition by scope_period, billing_currency) as even_share
    from receivers_period
),

spread_targets as (
    select
        w.*, r.to_category, r.to_workload,
        case w.strategy when 'even' then r.even_share else r.proportional_share end as share
    from with_strategy as w
    inner join shares_day as r on w.day = r.scope_day and w.billing_currency = r.billing_currency
    where w.category = 'shared' and w.strategy <> 'keep' and not w.multi_day
    union all by name
    select
        w.*, r.to_category, r.to_workload,
        case w.strategy when 'even' then r.even_share else r.proportional_share end as share
    from with_strategy as w
    inner join shares_period as r
        on w.billing_period = r.scope_period and w.billing_currency = r.billing_currency
    where w.category = 'shared' and w.strategy <> 'keep' and w.multi_day
),

-- Shared cost that a strategy would spread but that has no receiver that day stays shared (never dropped).
unspread as (
    select w.* from with_strategy as w
    where w.category = 'shared' and w.strategy <> 'keep'
        and not exists (
            select 1 from spread_targets as t
            where t.day = w.day and t.rule_key = w.rule_key and t.charge_period_start = w.charge_period_start
                and t.source_file = w.source_file
        )
),

attributed as (
    select *, 'direct' as allocation, 1.0 as share from with_strategy
    where category <> 'shared' or strategy = 'keep'
    union all by name
    select *, 'direct' as allocation, 1.0 as share from unspread
    union all by name
    select
        * exclude (category, workload, rule_id, to_category, to_workload),
        to_category as category,
        to_workload as workload,
        'spread:' || rule_id as rule_id,
        'spread' as allocation
    from spread_targets
),

final as (
    select
        day as usage_date,
        billing_period,
        category,
        workload,
        rule_id,
        allocation,
        shared_kind,
        billed_cost * fraction * share as billed_cost,
        effective_cost * fraction * share as effective_cost,
        list_cost * fraction * share as list_cost,
        usage_quantity * fraction * share as usage_quantity,
        billing_currency,
        provider,
        billing_account_id,
        sub_account_id,
        service_code,
        usage_type,
        operation,
        resource_id,
        region,
        instance_type,
        product_gpu_count,
        line_item_type,
        charge_category,
        pricing_unit,
        charge_period_start,
        charge_period_end,
        delivery_id
    from attributed
    where day between cast($start_date as date) and cast($end_date as date)
)

select * from final
