-- predictions_daily: successful predictions per UTC day, workload and endpoint.
-- Grain: one row per usage_date × workload × endpoint.
-- The workload is the reader's mapping (a mapping file), else the workload the bill gives the SageMaker endpoint
-- of that name (its tags, via cost_attribution), else the endpoint or model name itself, lower-cased (the same
-- default attribution uses for untagged SageMaker resources).
-- Reads: prediction_counts (the frame of pipelines/predictions/counts.py), cost_attribution (view).
-- Parameters: $start_date, $end_date (inclusive UTC days).
with counts as (
    select * from prediction_counts
    where usage_date between cast($start_date as date) and cast($end_date as date)
),

endpoint_workloads as (
    select
        lower(regexp_extract(resource_id, ':endpoint/([^/]+)$', 1)) as endpoint_key,
        arg_max(workload, effective_cost) as workload
    from cost_attribution
    where resource_id like 'arn:aws:sagemaker:%:endpoint/%' and allocation = 'direct'
    group by all
),

final as (
    select
        c.usage_date,
        coalesce(c.workload, e.workload, lower(c.endpoint)) as workload,
        c.endpoint,
        sum(c.predictions) as predictions,
        sum(c.invocations) as invocations,
        sum(c.failed_requests) as failed_requests,
        string_agg(distinct c.source, ', ') as source
    from counts as c
    left join endpoint_workloads as e on lower(c.endpoint) = e.endpoint_key
    group by all
)

select * from final order by usage_date, workload, endpoint
