-- check cost_per_prediction_daily.predictions_not_negative (blocking): days and workloads whose prediction count is
-- negative (must return no row): a counter reset read as a drop, or more failed requests than invocations.
-- Parameters: $start_date, $end_date.
select usage_date, workload, predictions, failed_requests
from cost_per_prediction_daily
where usage_date between $start_date and $end_date and predictions < 0
order by usage_date, workload
