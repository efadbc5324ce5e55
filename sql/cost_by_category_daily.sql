-- cost_by_category_daily: what each category and workload cost each UTC day, after sharing.
-- Grain: one row per usage_date × category × workload × owner dimensions (model, team, project, environment; NULL
-- when the lines carry no such tag) × billing_currency: sum over the owner columns for a day's category × workload.
-- Reads: cost_attribution (view). Parameters: $start_date, $end_date (inclusive UTC days).
with attribution as (
    select * from cost_attribution
    where usage_date between cast($start_date as date) and cast($end_date as date)
),

final as (
    select
        usage_date,
        category,
        workload,
        model,
        team,
        project,
        environment,
        billing_currency,
        fsum(billed_cost) as billed_cost,
        fsum(effective_cost) as effective_cost,
        fsum(effective_cost) filter (where allocation = 'direct') as direct_effective_cost,
        fsum(effective_cost) filter (where allocation = 'spread') as spread_effective_cost,
        fsum(list_cost) as list_cost,
        count(*) as attribution_rows
    from attribution
    group by usage_date, category, workload, model, team, project, environment, billing_currency
)

select * from final order by usage_date, category, workload, model, team, project, environment
