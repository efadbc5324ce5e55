-- cost_per_1k_predictions: inference cost per 1,000 predictions per model and UTC day, with the day's prediction
-- volume, this month and last. A day without predictions has a NULL cost per 1,000 (no denominator), not 0.
-- Reads: cost_per_prediction_daily. Parameters: $as_of.
select
    usage_date,
    workload,
    billing_currency,
    predictions,
    inference_cost,
    cost_per_1k_predictions,
    loaded_cost_per_1k_predictions
from cost_per_prediction_daily
where usage_date between cast(date_trunc('month', cast($as_of as date)) - interval 1 month as date)
    and cast($as_of as date)
order by workload, usage_date
