-- tag_coverage: per billing period, which share of the effective cost carries each tag key the rules read, by
-- service and account, so owners see which teams tag (and which services cannot be tagged: tax, fees).
-- Grain: one row per billing_period × billing_currency × tag_key × service × account.
-- Reads: line_items (view), every line of the periods (not cost_attribution: a line's tags are the source's).
-- Parameters: $start_period, $end_period (first days of months), $tag_keys (VARCHAR[]: the keys, normalized as
-- line_items' tags are), $used_by (VARCHAR[], aligned with $tag_keys: what in the rules file reads each key).
with lines as (
    select
        billing_period,
        billing_currency,
        -- FOCUS ServiceName (or AWS's x_ServiceCode) / CUR product code, as rule_coverage names services.
        coalesce(service_code, '(none)') as service,
        coalesce(sub_account_id, billing_account_id, '(none)') as account,
        -- One flag per key: the line carries a non-empty value (an empty value names no owner, as for the
        -- workload). Computed once per line, then lines with the same flags are summed before meeting the keys.
        list_transform(cast($tag_keys as varchar[]), k -> coalesce(tags[k], '') <> '') as carries,
        effective_cost
    from line_items
    where billing_period between cast($start_period as date) and cast($end_period as date)
),

grouped as (
    select billing_period, billing_currency, service, account, carries,
        count(*) as lines, fsum(effective_cost) as effective_cost
    from lines
    group by all
),

keyed as (
    select
        g.*,
        k.i,
        g.carries[k.i] as tagged
    from grouped as g
    cross join (select unnest(range(1, len(cast($tag_keys as varchar[])) + 1)) as i) as k
),

final as (
    select
        billing_period,
        billing_currency,
        cast($tag_keys as varchar[])[i] as tag_key,
        cast($used_by as varchar[])[i] as used_by,
        service,
        account,
        cast(sum(lines) as bigint) as lines,
        cast(coalesce(sum(lines) filter (where tagged), 0) as bigint) as tagged_lines,
        fsum(effective_cost) as effective_cost,
        coalesce(fsum(effective_cost) filter (where tagged), 0) as tagged_effective_cost,
        -- NULL when the service's effective cost is 0 in the period (no denominator).
        coalesce(fsum(effective_cost) filter (where tagged), 0) / nullif(fsum(effective_cost), 0) as tagged_share
    from keyed
    group by billing_period, billing_currency, i, service, account
)

select * from final
order by billing_period, billing_currency, tag_key, effective_cost desc, service, account
