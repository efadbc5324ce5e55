-- commitment_utilization: per billing period, how much of each Reserved Instance and Savings Plan was used, and how
-- much of the eligible compute (instance hours, GPU hours, on-demand equivalent cost) the commitments covered.
-- Grain: one row per billing_period × billing_currency × commitment_id.
-- Reads: line_items (view), gpu_instance_types (reference table, pipelines/gpu/efficiency.py).
-- Parameters: $start_period, $end_period (first days of months).
--
-- Definitions (docs/commitments.md), after AWS Cost Explorer's:
-- - utilization = used / total commitment in $ (Savings Plans: UsedCommitment / TotalCommitment). For an RI, AWS
--   measures it in hours (used / purchased reservation hours): `hours_utilization`. Both use the amortized
--   commitment, so an RI's upfront fee counts for its share of the period.
-- - coverage = covered / eligible usage: instance hours a commitment covered over all eligible instance hours (RI
--   CoverageHoursPercentage), and on-demand equivalent cost covered over the eligible on-demand equivalent (Savings
--   Plans CoveragePercentage, "all calculations consider the On-Demand equivalent").
--
-- `lines` is read twice (the commitment side, the usage side), not materialized: DuckDB would otherwise keep a copy
-- of every matching line, which at 300M lines spilled 30 GB and filled the disk (docs/benchmarks.md, section 12).
-- The usage side is aggregated once (by covering commitment) and its totals summed from that.
with lines as not materialized (
    select *
    from line_items
    where billing_period between cast($start_period as date) and cast($end_period as date)
),

-- The commitment side. CUR: a fee line (RIFee, SavingsPlanRecurringFee) states the commitment (commitment_cost)
-- and carries its unused part as effective cost (sql/staging/cur_lines.sql); the covered usage (DiscountedUsage,
-- SavingsPlanCoveredUsage) carries the used part as effective cost. FOCUS: usage rows with CommitmentDiscountStatus
-- Used / Unused carry the used and unused parts; the total is their sum (the purchase row's EffectiveCost is 0).
commitment_lines as (
    select
        billing_period,
        billing_currency,
        commitment_id,
        commitment_type,
        provider,
        case
            when line_item_type in ('RIFee', 'SavingsPlanRecurringFee') then 'fee'
            when line_item_type in ('DiscountedUsage', 'SavingsPlanCoveredUsage') then 'used'
            when lower(commitment_status) = 'used' then 'used'
            when lower(commitment_status) = 'unused' then 'unused'
        end as part,
        line_item_type,
        effective_cost,
        commitment_cost,
        commitment_unused_quantity,
        usage_quantity
    from lines
    where commitment_id is not null and commitment_id <> ''
),

commitments as (
    select
        billing_period,
        billing_currency,
        commitment_id,
        coalesce(
            any_value(commitment_type),
            case
                when any_value(commitment_id) like '%:savingsplan/%' then 'Savings Plan'
                when any_value(commitment_id) like '%:reserved-instances/%' then 'Reserved Instance'
            end
        ) as commitment_type,
        any_value(provider) as provider,
        fsum(effective_cost) filter (where part = 'used') as used_cost,
        fsum(effective_cost) filter (where part in ('fee', 'unused')) as unused_cost,
        fsum(commitment_cost) filter (where part = 'fee') as stated_cost,
        -- RI hours: the RIFee line's usage is the reservation hours bought for the period.
        sum(usage_quantity) filter (where line_item_type = 'RIFee') as purchased_hours,
        sum(commitment_unused_quantity) filter (where line_item_type = 'RIFee') as unused_hours,
        count(*) filter (where part = 'fee') as fee_lines
    from commitment_lines
    where part is not null
    group by billing_period, billing_currency, commitment_id
),

-- The usage side: compute an RI or a Savings Plan can cover. Instance hours of EC2 and SageMaker (the usage types
-- gpu_billed_intervals reads), without Spot (no commitment applies to it) and without the negation lines that
-- cancel covered usage's on-demand cost (they would count its hours twice); for a FOCUS bill without usage types,
-- usage rows of an instance type that are not Spot (PricingCategory Dynamic) or an unused commitment.
eligible as (
    select
        l.billing_period,
        l.billing_currency,
        case
            when l.commitment_id is not null and l.commitment_id <> ''
                and lower(coalesce(l.commitment_status, 'used')) = 'used'
                then l.commitment_id
        end as covered_by,
        l.usage_quantity as hours,
        l.usage_quantity * coalesce(nullif(l.product_gpu_count, 0), t.gpu_count, 0) as gpu_hours,
        -- On-demand equivalent: the list cost, else (a line without one) its effective cost.
        coalesce(nullif(l.list_cost, 0), l.effective_cost) as on_demand_cost
    from lines as l
    left join gpu_instance_types as t
        on t.instance_type = regexp_replace(lower(coalesce(
            nullif(l.instance_type, ''), regexp_extract(l.usage_type, ':((ml\.)?[a-z0-9-]+\.[a-z0-9]+)$', 1)
        )), '^ml\.', '')
    where l.charge_category = 'Usage'
        and l.line_item_type is distinct from 'SavingsPlanNegation'
        and (
            -- Instance usage types name the instance after a colon: the pattern runs only on those lines.
            (
                contains(l.usage_type, ':') and regexp_matches(
                    l.usage_type, '(BoxUsage|DedicatedUsage|(^|-)(Train|Host|AsyncInf|Transform|Notebk|Processing)):'
                )
            )
            or (
                l.usage_type is null and l.instance_type is not null
                and l.pricing_category is distinct from 'Dynamic'
                and lower(coalesce(l.commitment_status, '')) <> 'unused'
            )
        )
),

-- Per covering commitment, and a row (commitment_id NULL) for the usage no commitment covered.
eligible_by_commitment as (
    select
        billing_period,
        billing_currency,
        covered_by as commitment_id,
        sum(hours) as hours,
        sum(gpu_hours) as gpu_hours,
        fsum(on_demand_cost) as on_demand_cost
    from eligible
    group by billing_period, billing_currency, covered_by
),

eligible_totals as (
    select
        billing_period,
        billing_currency,
        sum(hours) as eligible_hours,
        sum(gpu_hours) as eligible_gpu_hours,
        fsum(on_demand_cost) as eligible_on_demand_cost
    from eligible_by_commitment
    group by billing_period, billing_currency
),

covered as (
    select
        billing_period,
        billing_currency,
        commitment_id,
        hours as covered_hours,
        gpu_hours as covered_gpu_hours,
        on_demand_cost as covered_on_demand_cost
    from eligible_by_commitment
    where commitment_id is not null
),

final as (
    select
        c.billing_period,
        c.billing_currency,
        c.commitment_id,
        c.commitment_type,
        c.provider,
        -- The bill's own figure when it states one (CUR fee lines), else used + unused (FOCUS).
        coalesce(c.stated_cost, coalesce(c.used_cost, 0) + coalesce(c.unused_cost, 0)) as total_commitment_cost,
        coalesce(c.used_cost, 0) as used_commitment_cost,
        coalesce(c.unused_cost, 0) as unused_commitment_cost,
        coalesce(c.used_cost, 0)
        / nullif(coalesce(c.stated_cost, coalesce(c.used_cost, 0) + coalesce(c.unused_cost, 0)), 0) as utilization,
        coalesce(c.unused_cost, 0)
        / nullif(coalesce(c.stated_cost, coalesce(c.used_cost, 0) + coalesce(c.unused_cost, 0)), 0) as unused_share,
        c.purchased_hours,
        c.unused_hours,
        (c.purchased_hours - c.unused_hours) / nullif(c.purchased_hours, 0) as hours_utilization,
        -- Stated total − used − unused: 0 when the bill's fee lines and covered usage agree (a check).
        c.stated_cost - coalesce(c.used_cost, 0) - coalesce(c.unused_cost, 0) as unexplained_cost,
        coalesce(v.covered_hours, 0) as covered_hours,
        coalesce(v.covered_gpu_hours, 0) as covered_gpu_hours,
        coalesce(v.covered_on_demand_cost, 0) as covered_on_demand_cost,
        e.eligible_hours,
        e.eligible_gpu_hours,
        e.eligible_on_demand_cost,
        coalesce(v.covered_hours, 0) / nullif(e.eligible_hours, 0) as hours_coverage,
        coalesce(v.covered_gpu_hours, 0) / nullif(e.eligible_gpu_hours, 0) as gpu_hours_coverage,
        coalesce(v.covered_on_demand_cost, 0) / nullif(e.eligible_on_demand_cost, 0) as cost_coverage
    from commitments as c
    left join covered as v
        on c.billing_period = v.billing_period and c.billing_currency = v.billing_currency
        and c.commitment_id = v.commitment_id
    left join eligible_totals as e
        on c.billing_period = e.billing_period and c.billing_currency = e.billing_currency
)

select * from final
order by billing_period, billing_currency, commitment_type, commitment_id
