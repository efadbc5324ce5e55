-- cost_attribution: every dollar of line_items, per line and UTC day, with its category, workload and rule_id.
-- Grain: one row per line and day it covers (a line spanning several days, such as a monthly fee, is split by the
-- seconds of each day inside its billing period); shared cost spread by a strategy gives one row per receiving
-- category × workload, with rule_id 'spread:<rule>'. A line entirely outside its billing period (a late credit)
-- is placed on the first day of its billing period, so every day belongs to exactly one billing period.
-- Reads: line_items (view) through the attribution_lines macro (sql/staging/attribution_lines.sql), and
-- attribution_rules, workload_mappings, sharing_strategies (pipelines/attribution/rules.py).
-- Parameters: $start_date, $end_date (inclusive UTC days), $tag_keys (VARCHAR[]), $sagemaker_names (BOOLEAN),
-- $spreading (BOOLEAN: some shared kind is spread, so the billing periods' weights need every line),
-- $model_tags, $team_tags, $project_tags, $environment_tags (VARCHAR[]: the tag keys of each owner dimension, the
-- rules file's `owners` section; the first a line carries gives the column's value, NULL when it carries none).
--
-- Why it is shaped like this (docs/benchmarks.md): rules and workload mappings are regular expressions held in
-- tables, and a pattern that is not a constant is compiled for every row it meets. So patterns only ever meet the
-- few distinct combinations of the fields they read (`classes`, `workloads`), never the lines; lines join those by
-- a hashed key; and the line-sized steps are a single pass each, not materialized (`lines` is read once per
-- step, with only the columns that step uses).
with rule_fields as (
    -- The fields some rule matches on. The others stay out of the classification key: lines that differ only
    -- in their resource id are classified once (the 10M-line bench month: 90 classes, ~300,000 resources).
    select
        bool_or(usage_type is not null) as usage_type,
        bool_or(service_code is not null) as service_code,
        bool_or(product_family is not null) as product_family,
        bool_or(operation is not null) as operation,
        bool_or(line_item_type is not null) as line_item_type,
        bool_or(charge_category is not null) as charge_category,
        bool_or(resource_id is not null) as resource_id,
        bool_or(charge_description is not null) as charge_description,
        -- Descriptions are many (hundreds a month) and long: when every rule on them also requires a FOCUS
        -- service category (the shipped FOCUS rules do), lines without one (CUR) leave the description out of
        -- their class, so a CUR bill has as many classes as before those rules existed.
        bool_or(
            charge_description is not null and (service_category is null or regexp_matches('', service_category))
        ) as description_unscoped,
        bool_or(commitment_id is not null) as commitment_id,
        bool_or(service_category is not null) as service_category,
        bool_or(service_subcategory is not null) as service_subcategory,
        bool_or(service_name is not null) as service_name,
        bool_or(sku_meter is not null) as sku_meter,
        bool_or(charge_class is not null) as charge_class,
        bool_or(pricing_category is not null) as pricing_category,
        bool_or(resource_type is not null) as resource_type,
        bool_or(provider is not null) as provider,
        bool_or(instance_type is not null) as instance_type,
        bool_or(commitment_status is not null) as commitment_status,
        coalesce(list(distinct tag_key) filter (where tag_key is not null), []) as tag_keys,
        coalesce(list(distinct detail_key) filter (where detail_key is not null), []) as detail_keys,
        (select count(*) > 0 from workload_mappings) as has_mappings
    from attribution_rules
),

lines as not materialized (
    select
        l.*,
        -- What the rules see of the line (a field no rule reads is left out), and what its workload is made of:
        -- the workload tags, then the resource id (for mappings) or the SageMaker resource name. Each is hashed
        -- to one number, so that joining 10M lines to their class and workload compares integers, not lists.
        hash(
            case when f.usage_type then l.usage_type end,
            case when f.service_code then l.service_code end,
            case when f.product_family then l.product_family end,
            case when f.operation then l.operation end,
            case when f.line_item_type then l.line_item_type end,
            case when f.charge_category then l.charge_category end,
            case when f.resource_id then l.resource_id end,
            case
                when f.charge_description and (f.description_unscoped or l.service_category is not null)
                    then l.charge_description
            end,
            case when f.commitment_id then l.commitment_id end,
            case when f.service_category then l.service_category end,
            case when f.service_subcategory then l.service_subcategory end,
            case when f.service_name then l.service_name end,
            case when f.sku_meter then l.sku_meter end,
            case when f.charge_class then l.charge_class end,
            case when f.pricing_category then l.pricing_category end,
            case when f.resource_type then l.resource_type end,
            case when f.provider then l.provider end,
            case when f.instance_type then l.instance_type end,
            case when f.commitment_status then l.commitment_status end,
            list_transform(f.tag_keys, t -> l.tags[t]),
            list_transform(f.detail_keys, k -> l.sku_price_details[k])
        ) as class_key,
        hash(
            list_transform(cast($tag_keys as varchar[]), t -> l.tags[t]),
            list_transform(
                cast($model_tags as varchar[]) || cast($team_tags as varchar[]) || cast($project_tags as varchar[])
                || cast($environment_tags as varchar[]),
                t -> l.tags[t]
            ),
            case
                when f.has_mappings or ($sagemaker_names and l.resource_id like 'arn:aws:sagemaker:%')
                    then l.resource_id
            end
        ) as workload_key
    from (
        -- The lines that can land on the run's days (sql/staging/attribution_lines.sql), filtered before the keys
        -- are computed (in a subquery: otherwise the keys are hashed for every line of the month and the filter
        -- applied after). Unless a sharing strategy needs the whole billing period's weights, that is a day's
        -- lines for a one-day rerun.
        select * from attribution_lines($start_date, $end_date, $spreading)
    ) as l
    cross join rule_fields as f
),

classes as (
    -- One line per class: the fields left out of the key are read by no rule, so any line of a class will do.
    select distinct on (class_key)
        class_key, usage_type, service_code, product_family, operation, line_item_type, charge_category,
        resource_id, charge_description, commitment_id, service_category, service_subcategory, service_name, sku_meter,
        charge_class, pricing_category, resource_type, provider, instance_type, commitment_status, tags, sku_price_details
    from lines
),

classified as (
    -- Each class against every rule: the first match by priority wins (`unmatched` matches everything).
    select
        k.class_key,
        r.rule_id,
        r.category,
        r.shared_kind
    from classes as k
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
        and (r.service_category is null or regexp_matches(coalesce(k.service_category, ''), r.service_category))
        and (r.service_subcategory is null or regexp_matches(coalesce(k.service_subcategory, ''), r.service_subcategory))
        and (r.service_name is null or regexp_matches(coalesce(k.service_name, ''), r.service_name))
        and (r.sku_meter is null or regexp_matches(coalesce(k.sku_meter, ''), r.sku_meter))
        and (r.charge_class is null or regexp_matches(coalesce(k.charge_class, ''), r.charge_class))
        and (r.pricing_category is null or regexp_matches(coalesce(k.pricing_category, ''), r.pricing_category))
        and (r.resource_type is null or regexp_matches(coalesce(k.resource_type, ''), r.resource_type))
        and (r.provider is null or regexp_matches(coalesce(k.provider, ''), r.provider))
        and (r.instance_type is null or regexp_matches(coalesce(k.instance_type, ''), r.instance_type))
        and (r.commitment_status is null or regexp_matches(coalesce(k.commitment_status, ''), r.commitment_status))
        and (r.tag_key is null or regexp_matches(coalesce(k.tags[r.tag_key], ''), r.tag_pattern))
        and (
            r.detail_key is null
            or regexp_matches(coalesce(k.sku_price_details[r.detail_key], ''), r.detail_pattern)
        )
    qualify row_number() over (partition by k.class_key order by r.priority, r.rule_id) = 1
),

workloads as (
    select
        k.workload_key,
        coalesce(
            list_filter(list_transform(cast($tag_keys as varchar[]), t -> k.tags[t]), v -> v is not null and v <> '')[1],
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
        ) as workload,
        -- Owner dimensions: tags only (a resource mapping or a SageMaker name says what the workload is, not who
        -- owns it). An empty tag value counts as no tag, as for the workload.
        list_filter(list_transform(cast($model_tags as varchar[]), t -> k.tags[t]), v -> v <> '')[1] as model,
        list_filter(list_transform(cast($team_tags as varchar[]), t -> k.tags[t]), v -> v <> '')[1] as team,
        list_filter(list_transform(cast($project_tags as varchar[]), t -> k.tags[t]), v -> v <> '')[1] as project,
        list_filter(list_transform(cast($environment_tags as varchar[]), t -> k.tags[t]), v -> v <> '')[1]
            as environment
    from (select distinct on (workload_key) workload_key, tags, resource_id from lines) as k
),

line_days as not materialized (
    -- Each line with its rule and workload, once per day it covers: an hourly or daily line has one day (its
    -- fraction is exactly 1: the same difference divided by itself); a line over several days gives each day its
    -- share of the seconds; a line with no time inside its billing period (zero length, or a late line for
    -- another period) lands on its start day if that is in the period, else on the period's first day.
    select
        * exclude (day_start),
        coalesce(cast(day_start as date), fallback_day) as day,
        case
            when day_start is null then 1.0
            else (epoch(least(span_end, day_start + interval 1 day)) - epoch(greatest(span_start, day_start)))
                / (epoch(span_end) - epoch(span_start))
        end as fraction
    from (
        select
            *,
            -- In the select list, not a lateral join: a lateral unnest re-joins every line to its days by value.
            unnest(
                case
                    when span_end > span_start then range(date_trunc('day', span_start), span_end, interval 1 day)
                    else [cast(null as timestamp)]
                end
            ) as day_start,
            coalesce(cast(span_start as date) <> cast(span_end - interval 1 microsecond as date), false) as multi_day
        from (
            select
                l.*,
                c.rule_id,
                c.category,
                c.shared_kind,
                coalesce(st.strategy, 'keep') as strategy,
                w.workload,
                w.model,
                w.team,
                w.project,
                w.environment,
                -- Not greatest()/least(): they skip NULL, which would stretch a line without an end to the end
                -- of its billing period. A missing bound stays NULL and the line lands whole on its fallback day.
                case
                    when l.charge_period_start > cast(l.billing_period as timestamp) then l.charge_period_start
                    when l.charge_period_start is not null then cast(l.billing_period as timestamp)
                end as span_start,
                case
                    when l.charge_period_end < cast(l.billing_period + interval 1 month as timestamp)
                        then l.charge_period_end
                    when l.charge_period_end is not null then cast(l.billing_period + interval 1 month as timestamp)
                end as span_end,
                case
                    when l.charge_period_start >= l.billing_period
                        and l.charge_period_start < l.billing_period + interval 1 month
                        then cast(l.charge_period_start as date)
                    else l.billing_period
                end as fallback_day
            from lines as l
            inner join classified as c on l.class_key = c.class_key
            inner join workloads as w on l.workload_key = w.workload_key
            left join sharing_strategies as st on c.shared_kind = st.shared_kind
        )
    )
),

-- Who receives spread shared cost: the other categories' positive effective cost, per day and per billing
-- period (charges over several days, such as monthly fees, are spread over their billing period), by category ×
-- workload and, inside each, by owner dimensions (so spread cost keeps its receivers' model, team, ...).
receivers as (
    select
        billing_period, day, billing_currency, category, workload, model, team, project, environment,
        sum(effective_cost * fraction) as weight
    from line_days
    where $spreading and category <> 'shared'
    group by all
),

pair_shares as (
    -- The strategy's share of each receiving category × workload: a pair with positive weight receives.
    select
        false as by_period, day as scope, billing_currency, category, workload,
        weight / sum(weight) over (partition by day, billing_currency) as proportional_share,
        1.0 / count(*) over (partition by day, billing_currency) as even_share
    from (
        select day, billing_currency, category, workload, sum(weight) as weight
        from receivers
        group by all
        having sum(weight) > 0
    )
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

owner_splits as (
    -- A pair's share divided among its owners in proportion to their positive weight: the pair's total is the
    -- strategy's, whatever the owners (a pair with positive weight has at least one owner with positive weight).
    select
        false as by_period, day as scope, billing_currency, category, workload, model, team, project, environment,
        weight / sum(weight) over (partition by day, billing_currency, category, workload) as owner_share
    from (
        select day, billing_currency, category, workload, model, team, project, environment, sum(weight) as weight
        from receivers
        group by all
        having sum(weight) > 0
    )
    union all
    select
        true as by_period, billing_period as scope, billing_currency, category, workload, model, team, project,
        environment,
        weight / sum(weight) over (partition by billing_period, billing_currency, category, workload)
    from (
        select billing_period, billing_currency, category, workload, model, team, project, environment,
            sum(weight) as weight
        from receivers
        group by all
        having sum(weight) > 0
    )
),

shares as (
    select
        p.by_period, p.scope, p.billing_currency,
        p.category as to_category, p.workload as to_workload,
        o.model as to_model, o.team as to_team, o.project as to_project, o.environment as to_environment,
        p.proportional_share * o.owner_share as proportional_share,
        p.even_share * o.owner_share as even_share
    from pair_shares as p
    inner join owner_splits as o
        on p.by_period = o.by_period and p.scope = o.scope and p.billing_currency = o.billing_currency
        and p.category = o.category and p.workload = o.workload
),

attributed as (
    -- One pass: shared cost with a spreading strategy meets its receivers; everything else (and shared cost with
    -- no receiver that day, which stays shared rather than being dropped) finds none and stays direct.
    select
        d.* exclude (category, workload, rule_id, model, team, project, environment),
        coalesce(r.to_category, d.category) as category,
        coalesce(r.to_workload, d.workload) as workload,
        -- Not coalesce: a receiver without a team tag has a NULL team, which must not become the shared line's.
        case when r.to_category is null then d.model else r.to_model end as model,
        case when r.to_category is null then d.team else r.to_team end as team,
        case when r.to_category is null then d.project else r.to_project end as project,
        case when r.to_category is null then d.environment else r.to_environment end as environment,
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
        model,
        team,
        project,
        environment,
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
        delivery_id,
        -- Invoice and commitment of the source line: what the FOCUS export (sql/exports/focus.sql) states.
        invoice_id,
        invoice_issuer,
        publisher,
        commitment_id,
        commitment_type,
        commitment_status,
        commitment_cost * fraction * share as commitment_cost,
        commitment_unused_quantity * fraction * share as commitment_unused_quantity
    from attributed
    where day between cast($start_date as date) and cast($end_date as date)
)

select * from final
