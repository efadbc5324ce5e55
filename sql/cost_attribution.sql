-- cost_attribution: every dollar of line_items, per line and UTC day, with its category, workload and rule_id.
-- Grain: one row per line and day it covers (a line spanning several days, such as a monthly fee, is split by the
-- seconds of each day inside its billing period); shared cost spread by a strategy gives one row per receiving
-- category × workload, with rule_id 'spread:<rule>'. A line entirely outside its billing period (a late credit)
-- is placed on the first day of its billing period, so every day belongs to exactly one billing period.
-- Reads: line_items (view), attribution_rules, workload_mappings, sharing_strategies (pipelines/attribution/rules.py).
-- Parameters: $start_date, $end_date (inclusive UTC days), $tag_keys (VARCHAR[]), $sagemaker_names (BOOLEAN),
-- $spreading (BOOLEAN: some shared kind is spread, so the billing periods' weights need every line).
--
-- Why it is shaped like this (docs/benchmarks.md): rules and workload mappings are regular expressions held in
-- tables, and a pattern that is not a constant is compiled for every row it meets. So patterns only ever meet the
-- few distinct combinations of the fields they read (`classes`, `workload_inputs`), never the lines; and the
-- line-sized steps are a single pass each, not materialized (`lines` is read once per step, columns pruned).
with rule_fields as (
    -- The fields some rule matches on. The others stay out of the classification key: lines that differ only
    -- in their resource id are classified once (at 10M lines, ~200 keys instead of ~300,000).
    select
        bool_or(usage_type is not null) as usage_type,
        bool_or(service_code is not null) as service_code,
        bool_or(product_family is not null) as product_family,
        bool_or(operation is not null) as operation,
        bool_or(line_item_type is not null) as line_item_type,
        bool_or(charge_category is not null) as charge_category,
        bool_or(resource_id is not null) as resource_id,
        bool_or(charge_description is not null) as charge_description,
        bool_or(commitment_id is not null) as commitment_id,
        coalesce(list(distinct tag_key) filter (where tag_key is not null), []) as tag_keys,
        (select count(*) > 0 from workload_mappings) as has_mappings
    from attribution_rules
),

lines as not materialized (
    select
        l.*,
        -- What the rules see of the line; a field no rule reads is NULL here.
        case when f.usage_type then l.usage_type end as k_usage_type,
        case when f.service_code then l.service_code end as k_service_code,
        case when f.product_family then l.product_family end as k_product_family,
        case when f.operation then l.operation end as k_operation,
        case when f.line_item_type then l.line_item_type end as k_line_item_type,
        case when f.charge_category then l.charge_category end as k_charge_category,
        case when f.resource_id then l.resource_id end as k_resource_id,
        case when f.charge_description then l.charge_description end as k_charge_description,
        case when f.commitment_id then l.commitment_id end as k_commitment_id,
        list_transform(f.tag_keys, t -> l.tags[t]) as k_rule_tags,
        -- What the workload is made of: the workload tags, then the resource id (for mappings) or the SageMaker
        -- resource name (endpoint/, training-job/, ...).
        list_transform(cast($tag_keys as varchar[]), t -> l.tags[t]) as w_tags,
        case when f.has_mappings then l.resource_id end as w_resource_id,
        case
            when $sagemaker_names then nullif(lower(regexp_extract(
                l.resource_id, ':(endpoint|training-job|transform-job|inference-component)/([^/]+)$', 2
            )), '')
        end as w_sagemaker_name
    from line_items as l
    cross join rule_fields as f
    where l.billing_period between date_trunc('month', cast($start_date as date)) and cast($end_date as date)
        -- Only the lines that can land on the run's days, unless a sharing strategy needs the whole billing
        -- period's weights: a one-day rerun then costs about a day's work, not a month's.
        and (
            $spreading
            or (
                l.charge_period_end > cast($start_date as timestamp)
                and l.charge_period_start < cast($end_date as timestamp) + interval 1 day
            )
            or not (l.charge_period_end > l.charge_period_start)
            or l.charge_period_end <= cast(l.billing_period as timestamp)
            or l.charge_period_start >= cast(l.billing_period + interval 1 month as timestamp)
        )
),

classes as (
    select distinct
        k_usage_type, k_service_code, k_product_family, k_operation, k_line_item_type, k_charge_category,
        k_resource_id, k_charge_description, k_commitment_id, k_rule_tags
    from lines
),

classified as (
    -- Each distinct combination against every rule: the first match by priority wins (`unmatched` matches all).
    select
        k.*,
        r.rule_id,
        r.category,
        r.shared_kind
    from classes as k
    cross join rule_fields as f
    inner join attribution_rules as r
        on (r.usage_type is null or regexp_matches(coalesce(k.k_usage_type, ''), r.usage_type))
        and (r.service_code is null or regexp_matches(coalesce(k.k_service_code, ''), r.service_code))
        and (r.product_family is null or regexp_matches(coalesce(k.k_product_family, ''), r.product_family))
        and (r.operation is null or regexp_matches(coalesce(k.k_operation, ''), r.operation))
        and (r.line_item_type is null or regexp_matches(coalesce(k.k_line_item_type, ''), r.line_item_type))
        and (r.charge_category is null or regexp_matches(coalesce(k.k_charge_category, ''), r.charge_category))
        and (r.resource_id is null or regexp_matches(coalesce(k.k_resource_id, ''), r.resource_id))
        and (
            r.charge_description is null
            or regexp_matches(coalesce(k.k_charge_description, ''), r.charge_description)
        )
        and (r.commitment_id is null or regexp_matches(coalesce(k.k_commitment_id, ''), r.commitment_id))
        and (
            r.tag_key is null
            or regexp_matches(coalesce(k.k_rule_tags[list_position(f.tag_keys, r.tag_key)], ''), r.tag_pattern)
        )
    qualify row_number() over (
        partition by
            k.k_usage_type, k.k_service_code, k.k_product_family, k.k_operation, k.k_line_item_type,
            k.k_charge_category, k.k_resource_id, k.k_charge_description, k.k_commitment_id, k.k_rule_tags
        order by r.priority, r.rule_id
    ) = 1
),

workload_inputs as (
    select distinct w_tags, w_resource_id, w_sagemaker_name from lines
),

workloads as (
    select
        k.*,
        coalesce(
            list_filter(k.w_tags, v -> v is not null and v <> '')[1],
            (
                select m.workload from workload_mappings as m
                where regexp_matches(coalesce(k.w_resource_id, ''), m.pattern)
                order by m.position limit 1
            ),
            k.w_sagemaker_name,
            'unattributed'
        ) as workload
    from workload_inputs as k
),

line_days as not materialized (
    -- Each line with its rule and workload, once per day it covers: an hourly or daily line has one day (its
    -- fraction is exactly 1: the same difference divided by itself); a line over several days gives each day its
    -- share of the seconds; a line with no time inside its billing period (zero length, or a late line for
    -- another period) lands on its start day if that is in the period, else on the period's first day.
    select
        s.*,
        coalesce(cast(d.day_start as date), s.fallback_day) as day,
        case
            when d.day_start is null then 1.0
            else (epoch(least(s.span_end, d.day_start + interval 1 day)) - epoch(greatest(s.span_start, d.day_start)))
                / (epoch(s.span_end) - epoch(s.span_start))
        end as fraction,
        coalesce(cast(s.span_start as date) <> cast(s.span_end - interval 1 microsecond as date), false) as multi_day
    from (
        select
            l.*,
            c.rule_id,
            c.category,
            c.shared_kind,
            coalesce(st.strategy, 'keep') as strategy,
            w.workload,
            greatest(l.charge_period_start, cast(l.billing_period as timestamp)) as span_start,
            least(l.charge_period_end, cast(l.billing_period + interval 1 month as timestamp)) as span_end,
            case
                when l.charge_period_start >= l.billing_period
                    and l.charge_period_start < l.billing_period + interval 1 month
                    then cast(l.charge_period_start as date)
                else l.billing_period
            end as fallback_day
        from lines as l
        inner join classified as c
            on l.k_usage_type is not distinct from c.k_usage_type
            and l.k_service_code is not distinct from c.k_service_code
            and l.k_product_family is not distinct from c.k_product_family
            and l.k_operation is not distinct from c.k_operation
            and l.k_line_item_type is not distinct from c.k_line_item_type
            and l.k_charge_category is not distinct from c.k_charge_category
            and l.k_resource_id is not distinct from c.k_resource_id
            and l.k_charge_description is not distinct from c.k_charge_description
            and l.k_commitment_id is not distinct from c.k_commitment_id
            and l.k_rule_tags is not distinct from c.k_rule_tags
        inner join workloads as w
            on l.w_tags is not distinct from w.w_tags
            and l.w_resource_id is not distinct from w.w_resource_id
            and l.w_sagemaker_name is not distinct from w.w_sagemaker_name
        left join sharing_strategies as st on c.shared_kind = st.shared_kind
    ) as s
    left join unnest(
        case when s.span_end > s.span_start then range(date_trunc('day', s.span_start), s.span_end, interval 1 day) end
    ) as d (day_start) on true
),

-- Who receives spread shared cost: the other categories' positive effective cost, per day and per billing
-- period (charges over several days, such as monthly fees, are spread over their billing period).
receivers as (
    select
        billing_period, day, billing_currency, category, workload,
        sum(effective_cost * fraction) as weight
    from line_days
    where $spreading and category <> 'shared'
    group by all
),

shares as (
    select
        false as by_period, day as scope, billing_currency, category as to_category, workload as to_workload,
        weight / sum(weight) over (partition by day, billing_currency) as proportional_share,
        1.0 / count(*) over (partition by day, billing_currency) as even_share
    from receivers
    where weight > 0
    union all
    select
        true as by_period, billing_period as scope, billing_currency, category, workload,
        weight / sum(weight) over (partition by billing_period, billing_currency),
        1.0 / count(*) over (partition by billing_period, billing_currency)
    from (
        select billing_period, billing_currency, category, workload, sum(weight) as weight
        from receivers
        group by all
        having sum(weight) > 0
    )
),

attributed as (
    -- One pass: shared cost with a spreading strategy meets its receivers; everything else (and shared cost with
    -- no receiver that day, which stays shared rather than being dropped) finds none and stays direct.
    select
        d.* exclude (category, workload, rule_id),
        coalesce(r.to_category, d.category) as category,
        coalesce(r.to_workload, d.workload) as workload,
        case when r.to_category is null then d.rule_id else 'spread:' || d.rule_id end as rule_id,
        case when r.to_category is null then 'direct' else 'spread' end as allocation,
        case
            when r.to_category is null then 1.0
            when d.strategy = 'even' then r.even_share
            else r.proportional_share
        end as share
    from line_days as d
    left join shares as r
        on r.by_period = d.multi_day
        and r.scope = (case when d.category = 'shared' and d.strategy <> 'keep' then
            case when d.multi_day then d.billing_period else d.day end
        end)
        and r.billing_currency = d.billing_currency
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
