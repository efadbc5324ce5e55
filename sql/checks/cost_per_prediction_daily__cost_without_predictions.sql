-- check cost_per_prediction_daily.cost_without_predictions: workloads with inference cost but no predictions on some days (a warning:
-- their cost per prediction is NULL). One row per workload.
-- Parameters: $start_date, $end_date.
select workload, count(*) as days, fsum(inference_cost) as inference_cost
from cost_per_prediction_daily
where usage_date between $start_date and $end_date and predictions = 0 and inference_cost <> 0
group by workload
order by workload
