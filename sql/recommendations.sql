-- recommendations: actions with the monthly saving each would bring, one row per billing_period × kind × resource
-- (or workload / path). Kinds (docs/recommendations.md has each formula; pipelines/decisions/recommendations.py
-- the constants and the reference prices with their sources):
--   idle_gpu           GPU resources that idled most of the last $window_days days
--   multi_gpu          multi-GPU hosts where few GPUs work: a smaller type of the same family
--   batching           inference workloads: the largest batch size whose latency stays within the budget
--   storage_lifecycle  S3 Standard storage with no read charges: Glacier Instant Retrieval
--   egress_path        inter-region, inter-AZ, NAT and internet transfer: co-locate or a cheaper path
--   commitment         the floor of on-demand GPU spend over 30 days: a Savings Plan commitment
--   unused_commitment  commitments paid and not used in the period
-- Kinds about the same resource are alternatives (stop it, or right-size it): do not add their savings.
-- idle_gpu:
-- Window: the $window_days days ending at as_of, the period's last day with a row in gpu_efficiency_daily.
-- η over the window = Σ active / Σ observed GPU hours (the days' ηs weighted by their GPU time, never a mean of
-- ratios); idle cost = Σ idle_cost of the days with an η (gpu_cost × (1 − η)). With MLCOST_ETA_BASIS=observed,
-- unobserved GPU time is not counted as idle: the saving is a floor, and confidence says how much was observed.
-- monthly_saving = idle cost over the window × 30 / $window_days (the window's average idle day, 30 days a month).
-- confidence: high when coverage ≥ 0.9 on every window day, medium when coverage ≥ 0.5, else low.
-- Reads: gpu_efficiency_daily, gpu_efficiency_by_device_daily, predictions_daily, cost_attribution,
-- commitment_utilization (views; empty where not computed), gpu_instance_types, gpu_instance_prices (reference).
-- Parameters: pipelines/decisions/recommendations.py parameters().
with bounds as (
    select max(usage_date) as as_of
    from gpu_efficiency_daily
    where usage_date between cast($billing_period as date) and last_day(cast($billing_period as date))
),

window_rows as (
    select g.*
    from gpu_efficiency_daily as g, bounds as b
    where g.usage_date between b.as_of - (cast($window_days as integer) - 1) and b.as_of
),

per_resource as (
    select
        resource_id,
        string_agg(distinct workload, ', ' order by workload) as workload,
        string_agg(distinct category, ', ' order by category) as category,
        any_value(instance_type) as instance_type,
        max(gpu_count) as gpu_count,
        count(*) as days_billed,
        count(eta) as days_observed,
        sum(allocated_gpu_hours) as allocated_gpu_hours,
        sum(observed_gpu_hours) as observed_gpu_hours,
        sum(active_gpu_hours) as active_gpu_hours,
        sum(active_gpu_hours) / nullif(sum(observed_gpu_hours), 0) as eta,
        least(sum(observed_gpu_hours) / nullif(sum(allocated_gpu_hours), 0), 1) as coverage,
        min(coverage) as min_day_coverage,
        fsum(gpu_cost) as gpu_cost,
        fsum(idle_cost) as idle_cost
    from window_rows
    group by resource_id
),

idle_gpu as (
    select
        cast($billing_period as date) as billing_period,
        b.as_of,
        'idle_gpu' as kind,
        p.resource_id,
        p.workload,
        p.category,
        p.instance_type,
        cast($window_days as integer) as window_days,
        p.days_billed,
        p.eta,
        p.coverage,
        p.gpu_cost,
        p.idle_cost,
        p.gpu_cost * 30 / cast($window_days as double) as monthly_cost,
        p.idle_cost * 30 / cast($window_days as double) as monthly_saving,
        case
            when p.eta < 0.05 then 'stop it, or schedule it off when unused'
            else 'right-size (a smaller instance) or share it (MIG, more models per GPU)'
        end as action,
        case
            when p.min_day_coverage >= 0.9 and p.days_observed = cast($window_days as integer) then 'high'
            when p.coverage >= 0.5 then 'medium'
            else 'low'
        end as confidence,
        printf(
            'η %.3f over %d day(s) to %s (%.1f active of %.1f observed GPU hours, coverage %.0f%%); idle cost %.2f',
            p.eta, p.days_billed, strftime(b.as_of, '%Y-%m-%d'), p.active_gpu_hours, p.observed_gpu_hours,
            100 * p.coverage, p.idle_cost
        ) as evidence,
        printf('idle cost %.2f × 30 / %d days', p.idle_cost, cast($window_days as integer)) as computed_as
    from per_resource as p, bounds as b
    where p.eta < cast($eta_threshold as double)
),

-- multi_gpu: per resource of the same window, the GPUs that worked = the most devices (whole GPUs) with η ≥
-- $device_active_min on one day (gpu_efficiency_by_device_daily). A host using at most half its GPUs could run on
-- the cheapest type of the same family with at least that many GPUs (gpu_instance_prices, list prices):
-- monthly_saving = GPU cost over the window × (1 − price_smaller / price_current) × 30 / N. The bill's own cost
-- is scaled, so a discount the account has carries over. GPUs missing from the logs are unobserved, not idle:
-- confidence is low where the window's coverage is under 0.9.
device_use as (
    select d.resource_id, d.usage_date, count(*) filter (where d.eta >= cast($device_active_min as double)) as used
    from gpu_efficiency_by_device_daily as d, bounds as b
    where d.usage_date between b.as_of - (cast($window_days as integer) - 1) and b.as_of
        and d.mig_instance is null
    group by all
),

multi_gpu_hosts as (
    select
        p.*,
        u.used_gpus,
        regexp_replace(lower(p.instance_type), '^ml\.', '') as base_type
    from per_resource as p
    inner join (select resource_id, max(used) as used_gpus from device_use group by all) as u using (resource_id)
    where p.gpu_count > 1 and u.used_gpus <= p.gpu_count / 2
),

multi_gpu_choice as (
    select
        h.resource_id,
        cur.on_demand_hourly as current_price,
        arg_min(s.instance_type, s.on_demand_hourly) as smaller_type,
        min(s.on_demand_hourly) as smaller_price,
        arg_min(s.gpu_count, s.on_demand_hourly) as smaller_gpus
    from multi_gpu_hosts as h
    inner join gpu_instance_prices as cur on cur.instance_type = h.base_type
    inner join gpu_instance_prices as s
        on split_part(s.instance_type, '.', 1) = split_part(h.base_type, '.', 1)
        and s.gpu_count >= greatest(h.used_gpus, 1) and s.on_demand_hourly < cur.on_demand_hourly
    group by all
),

multi_gpu as (
    select
        cast($billing_period as date) as billing_period,
        b.as_of,
        'multi_gpu' as kind,
        h.resource_id,
        h.workload,
        h.category,
        h.instance_type,
        cast($window_days as integer) as window_days,
        h.days_billed,
        h.eta,
        h.coverage,
        h.gpu_cost,
        h.idle_cost,
        h.gpu_cost * 30 / cast($window_days as double) as monthly_cost,
        h.gpu_cost * (1 - c.smaller_price / c.current_price) * 30 / cast($window_days as double) as monthly_saving,
        printf('move to %s (%d GPU(s)): at most %d of %d GPUs worked on a day', c.smaller_type, c.smaller_gpus,
            h.used_gpus, h.gpu_count) as action,
        case when h.coverage >= 0.9 then 'medium' else 'low' end as confidence,
        printf(
            'at most %d of %d GPUs had η ≥ %.2f on a day of the %d day(s) to %s; η %.3f; GPU cost %.2f',
            h.used_gpus, h.gpu_count, cast($device_active_min as double), h.days_billed,
            strftime(b.as_of, '%Y-%m-%d'), h.eta, h.gpu_cost
        ) as evidence,
        printf('GPU cost %.2f × (1 − %.3f / %.3f per hour) × 30 / %d days', h.gpu_cost, c.smaller_price,
            c.current_price, cast($window_days as integer)) as computed_as
    from multi_gpu_hosts as h
    inner join multi_gpu_choice as c using (resource_id), bounds as b
),

-- batching: per inference workload over the same window, the batching_curve macro's cost at each batch size; the
-- cheapest batch size whose modelled latency stays within $latency_budget_ms (cost falls as B grows, so the
-- largest such B). monthly_saving = (measured GPU cost − cost at B) × 30 / N.
batching_best as (
    select
        c.workload,
        arg_max(c.batch_size, c.batch_size) as batch_size
    from batching_curve(
        (select as_of from bounds) - (cast($window_days as integer) - 1), (select as_of from bounds),
        cast($batch_marginal_share as double)
    ) as c
    where c.latency_ms <= cast($latency_budget_ms as double) and c.batch_size > c.current_batch
    group by all
),

batching as (
    select
        cast($billing_period as date) as billing_period,
        b.as_of,
        'batching' as kind,
        c.resources as resource_id,
        c.workload,
        'inference' as category,
        c.instance_type,
        cast($window_days as integer) as window_days,
        c.gpu_days as days_billed,
        c.eta,
        c.gpu_cost,
        c.gpu_cost * 30 / cast($window_days as double) as monthly_cost,
        (c.gpu_cost - c.cost) * 30 / cast($window_days as double) as monthly_saving,
        printf('batch %d predictions per invocation (now %.2f): latency %.1f ms, within the %.0f ms budget',
            c.batch_size, c.current_batch, c.latency_ms, cast($latency_budget_ms as double)) as action,
        'low' as confidence,
        printf(
            '%.0f predictions in %.0f invocations over %d day(s) to %s; %.2f active of %.2f observed GPU hours '
            || '(η %.3f) costing %.2f: %.3f GPU-ms per invocation; cost per 1k predictions %.4f → %.4f',
            c.predictions, c.invocations, c.gpu_days, strftime(b.as_of, '%Y-%m-%d'), c.active_gpu_hours,
            c.observed_gpu_hours, c.eta, c.gpu_cost, c.current_latency_ms,
            1000 * c.gpu_cost / c.predictions, c.cost_per_1k
        ) as evidence,
        printf(
            'C = R / B × t(B) × c_gpu/h / η: GPU cost %.2f × (t(%d) / %d) / (t(%.2f) / %.2f) = %.2f, '
            || 't(B) = %.3f ms × (1 + %.2f × (B − 1)) / (1 + %.2f × (%.2f − 1)); (%.2f − %.2f) × 30 / %d days',
            c.gpu_cost, c.batch_size, c.batch_size, c.current_batch, c.current_batch, c.cost,
            c.current_latency_ms, cast($batch_marginal_share as double), cast($batch_marginal_share as double),
            c.current_batch, c.gpu_cost, c.cost, cast($window_days as integer)
        ) as computed_as
    from batching_curve(
        (select as_of from bounds) - (cast($window_days as integer) - 1), (select as_of from bounds),
        cast($batch_marginal_share as double)
    ) as c
    inner join batching_best using (workload, batch_size), bounds as b
),

-- The billing period's lines (cost_attribution: every line once, split across workloads where shared). Read by
-- four parts, each with its own filter: not materialized, or DuckDB keeps a copy of every attribution row of the
-- month (at 300M lines, tens of GB on the disk: docs/benchmarks.md, section 12).
period_lines as not materialized (
    select *
    from cost_attribution
    where billing_period = cast($billing_period as date)
),

period_days as (
    select
        max(usage_date) as as_of,
        count(distinct usage_date) as days_with_cost,
        day(last_day(cast($billing_period as date))) as days_in_month
    from period_lines
),

-- storage_lifecycle: S3 Standard storage (usage type TimedStorage-ByteHrs, in GB-Mo) of a bucket that had no read
-- charges (GET/SELECT requests Requests-Tier2, retrievals) above $storage_read_share of its storage cost in the
-- period: Glacier Instant Retrieval keeps millisecond reads at $storage_target_price per GB-month.
-- monthly_saving = (storage cost − GB-Mo × target price) × days in month / days with storage lines.
storage as (
    select
        l.resource_id,
        l.region,
        string_agg(distinct l.workload, ', ' order by l.workload) as workload,
        sum(l.usage_quantity) as gb_months,
        fsum(l.effective_cost) as storage_cost,
        count(distinct l.usage_date) as days,
        -- The day's GB-Mo × days in month = GB stored that day.
        arg_min(l.usage_quantity, l.usage_date) as first_day_gb_mo,
        arg_max(l.usage_quantity, l.usage_date) as last_day_gb_mo
    from (
        select resource_id, region, usage_date, string_agg(distinct workload, ', ') as workload,
            sum(usage_quantity) as usage_quantity, fsum(effective_cost) as effective_cost
        from period_lines
        -- The plain suffix test first: the pattern runs only on the lines it lets through (at 300M lines every
        -- regular expression over the month's lines costs minutes).
        where suffix(usage_type, 'TimedStorage-ByteHrs')
            and regexp_matches(usage_type, '(^|-)TimedStorage-ByteHrs$')
        group by all
    ) as l
    group by all
),

reads as (
    select resource_id, fsum(effective_cost) as read_cost
    from period_lines
    where (
        contains(usage_type, 'Requests-Tier2') or contains(usage_type, 'Retrieval-') or contains(usage_type, 'Select-')
    )
        and regexp_matches(usage_type, '(^|-)(Requests-Tier2|Retrieval-[A-Za-z]+|Select-[A-Za-z-]+)')
    group by all
),

storage_lifecycle as (
    select
        cast($billing_period as date) as billing_period,
        d.as_of,
        'storage_lifecycle' as kind,
        s.resource_id,
        s.workload,
        'storage' as category,
        s.days as days_billed,
        s.storage_cost * d.days_in_month / s.days as monthly_cost,
        (s.storage_cost - s.gb_months * cast($storage_target_price as double)) * d.days_in_month / s.days
            as monthly_saving,
        'lifecycle rule: objects not read move to S3 Glacier Instant Retrieval' as action,
        case when coalesce(r.read_cost, 0) = 0 and s.region = 'us-east-1' then 'high' else 'medium' end
            as confidence,
        printf(
            '%.2f GB-Mo of S3 Standard in %s costing %.2f over %d day(s) to %s (%.0f GB on the first day, %.0f on '
            || 'the last); read charges %.2f',
            s.gb_months, coalesce(s.region, 'no region'), s.storage_cost, s.days, strftime(d.as_of, '%Y-%m-%d'),
            s.first_day_gb_mo * d.days_in_month, s.last_day_gb_mo * d.days_in_month, coalesce(r.read_cost, 0)
        ) as evidence,
        printf('(%.2f − %.2f GB-Mo × %.4f) × %d / %d days', s.storage_cost, s.gb_months,
            cast($storage_target_price as double), d.days_in_month, s.days) as computed_as
    from storage as s
    left join reads as r using (resource_id), period_days as d
    where coalesce(r.read_cost, 0) <= cast($storage_read_share as double) * s.storage_cost
),

-- egress_path: transfer lines by path (usage type) and resource. Inter-region (<SRC>-<DST>-AWS-Out-Bytes) and
-- inter-AZ (DataTransfer-Regional-Bytes): co-locating saves the whole cost. NAT (NatGateway-Bytes): a gateway VPC
-- endpoint carries S3 / DynamoDB traffic without the NAT's per-GB charge (only that traffic: low confidence).
-- Internet (DataTransfer-Out-Bytes): CloudFront at $cloudfront_price per GB, origin fetch from AWS free.
transfer as (
    select
        resource_id,
        usage_type,
        string_agg(distinct workload, ', ' order by workload) as workload,
        sum(usage_quantity) as gb,
        fsum(effective_cost) as cost,
        count(distinct usage_date) as days,
        case
            when regexp_matches(usage_type, '^[A-Z0-9]+-[A-Z0-9]+-AWS-Out-Bytes$') then 'inter-region'
            when regexp_matches(usage_type, '(^|-)DataTransfer-Regional-Bytes$') then 'inter-AZ'
            when regexp_matches(usage_type, '(^|-)NatGateway-Bytes$') then 'NAT gateway'
            when regexp_matches(usage_type, '(^|-)DataTransfer-Out-Bytes$') then 'internet'
        end as path
    from period_lines
    -- Every path's usage type ends in -Bytes: the four patterns run only on those lines.
    where suffix(usage_type, '-Bytes')
    group by all
    having path is not null and fsum(effective_cost) > 0
),

egress_path as (
    select
        cast($billing_period as date) as billing_period,
        d.as_of,
        'egress_path' as kind,
        t.resource_id,
        t.workload,
        'egress' as category,
        t.days as days_billed,
        t.cost * d.days_in_month / t.days as monthly_cost,
        case
            when t.path = 'internet' then (t.cost - t.gb * cast($cloudfront_price as double))
            else t.cost
        end * d.days_in_month / t.days as monthly_saving,
        case t.path
            when 'inter-region' then 'co-locate the reader and the data in one region (or replicate once)'
            when 'inter-AZ' then 'keep the traffic in one availability zone'
            when 'NAT gateway' then 'send S3 / DynamoDB traffic through a gateway VPC endpoint'
            else 'serve it through CloudFront'
        end as action,
        case when t.path in ('inter-region', 'inter-AZ') then 'medium' else 'low' end as confidence,
        printf('%s path %s: %.2f GB costing %.2f over %d day(s) to %s', t.path, t.usage_type, t.gb, t.cost,
            t.days, strftime(d.as_of, '%Y-%m-%d')) as evidence,
        case
            when t.path = 'internet' then printf('(%.2f − %.2f GB × %.3f) × %d / %d days', t.cost, t.gb,
                cast($cloudfront_price as double), d.days_in_month, t.days)
            else printf('%.2f × %d / %d days', t.cost, d.days_in_month, t.days)
        end as computed_as
    from transfer as t, period_days as d
),

-- commitment: per plan family (Compute: EC2; SageMaker), on-demand GPU compute (usage lines of GPU instance types,
-- not Spot, not covered by a commitment) over the $commit_window_days days to the period's last day with cost, spread over its hours. The floor = the
-- lowest hour's on-demand cost (an hour with none: 0). A Savings Plan committing floor × (1 − d) an hour would have
-- been used every hour; monthly_saving = floor × d × 24 × 30, d = $commit_discount.
commit_bounds as (
    select
        pd.as_of,
        greatest(
            pd.as_of - (cast($commit_window_days as integer) - 1),
            (select min(ca.usage_date) from cost_attribution as ca)
        ) as first_day
    from period_days as pd
),

on_demand_hours as (
    select
        -- Compute Savings Plans cover EC2, not SageMaker; SageMaker Savings Plans cover SageMaker instances.
        case when coalesce(a.service_code, '') = 'AmazonSageMaker' or regexp_matches(coalesce(a.usage_type, ''),
            '(^|-)(Train|Host|AsyncInf|Transform):') then 'SageMaker' else 'Compute' end as plan,
        h.hour,
        sum(a.effective_cost / greatest(date_diff('hour', a.charge_period_start, a.charge_period_end), 1)) as cost,
        list(distinct a.workload) as workloads
    from cost_attribution as a
    left join gpu_instance_types as t
        on t.instance_type = regexp_replace(lower(coalesce(
            nullif(a.instance_type, ''), regexp_extract(a.usage_type, ':((ml\.)?[a-z0-9-]+\.[a-z0-9]+)$', 1)
        )), '^ml\.', ''),
        commit_bounds as cb,
        unnest(generate_series(
            date_trunc('hour', a.charge_period_start),
            a.charge_period_end - interval 1 microsecond,
            interval 1 hour
        )) as h (hour)
    where a.usage_date between cb.first_day and cb.as_of
        and a.charge_category = 'Usage'
        and coalesce(a.line_item_type, 'Usage') = 'Usage'
        -- Instance usage types name the instance after a colon: the pattern runs only on those lines.
        and contains(a.usage_type, ':')
        and regexp_matches(a.usage_type, '(BoxUsage|DedicatedUsage|(^|-)(Train|Host|AsyncInf|Transform)):')
        and coalesce(nullif(a.product_gpu_count, 0), t.gpu_count, 0) > 0
        and h.hour >= cb.first_day and h.hour < cb.as_of + 1
    group by all
),

on_demand_floor as (
    select
        o.plan,
        count(*) as hours_with_usage,
        24 * (max(cb.as_of) - max(cb.first_day) + 1) as hours,
        case when count(*) = 24 * (max(cb.as_of) - max(cb.first_day) + 1) then min(o.cost) else 0 end as floor,
        avg(o.cost) * count(*) / (24 * (max(cb.as_of) - max(cb.first_day) + 1)) as mean_hourly,
        array_to_string(list_sort(list_distinct(flatten(list(o.workloads)))), ', ') as workload,
        max(cb.first_day) as first_day,
        max(cb.as_of) as as_of
    from on_demand_hours as o, commit_bounds as cb
    group by o.plan
),

commitment as (
    select
        cast($billing_period as date) as billing_period,
        f.as_of,
        'commitment' as kind,
        cast(null as varchar) as resource_id,
        f.workload,
        cast(datediff('day', f.first_day, f.as_of) + 1 as bigint) as days_billed,
        f.mean_hourly * 24 * 30 as monthly_cost,
        f.floor * cast($commit_discount as double) * 24 * 30 as monthly_saving,
        printf('a 1-year %s Savings Plan of %.2f an hour (covers %.2f of on-demand GPU compute an hour)',
            f.plan, f.floor * (1 - cast($commit_discount as double)), f.floor) as action,
        'medium' as confidence,
        printf(
            'on-demand GPU compute (%s plan) %s to %s: lowest hour %.2f, mean hour %.2f (%d of %d hours with usage)',
            f.plan, strftime(f.first_day, '%Y-%m-%d'), strftime(f.as_of, '%Y-%m-%d'), f.floor, f.mean_hourly,
            f.hours_with_usage, f.hours
        ) as evidence,
        printf('floor %.2f × discount %.2f × 24 × 30', f.floor, cast($commit_discount as double)) as computed_as
    from on_demand_floor as f
    where f.floor > 0
),

-- unused_commitment: a commitment's unused cost in the period (commitment_utilization) is money already spent;
-- moving eligible usage onto it (or not renewing it) recovers it. monthly_saving = unused_commitment_cost.
unused_commitment as (
    select
        cast($billing_period as date) as billing_period,
        (select pd.as_of from period_days as pd) as as_of,
        'unused_commitment' as kind,
        u.commitment_id as resource_id,
        u.total_commitment_cost as monthly_cost,
        u.unused_commitment_cost as monthly_saving,
        'move eligible usage onto it (its family and region), or do not renew it' as action,
        'medium' as confidence,
        printf('%s: %.2f of %.2f unused (utilization %.1f%%)', u.commitment_type, u.unused_commitment_cost,
            u.total_commitment_cost, 100 * coalesce(u.utilization, 0)) as evidence,
        printf('unused commitment %.2f', u.unused_commitment_cost) as computed_as
    from commitment_utilization as u
    where u.billing_period = cast($billing_period as date) and u.unused_commitment_cost > 0
),

final as (
    select * from idle_gpu
    union all by name
    select * from multi_gpu
    union all by name
    select * from batching
    union all by name
    select * from storage_lifecycle
    union all by name
    select * from egress_path
    union all by name
    select * from commitment
    union all by name
    select * from unused_commitment
)

select
    billing_period, as_of, kind, resource_id, workload, category, instance_type, window_days, days_billed, eta,
    coverage, gpu_cost, idle_cost, monthly_cost, monthly_saving, action, confidence, evidence, computed_as
from final
where monthly_saving >= cast($min_saving as double)
order by monthly_saving desc, kind, resource_id
