-- check cost_anomalies.anomalous_days: the anomalies cost_anomalies flagged on the run's days (a warning: someone should look).
-- One row per anomaly, largest $ impact first within each day.
-- Parameters: $start_date, $end_date.
select
    usage_date, metric, scope, billing_currency, value, baseline, deviation_pct, dollar_impact, robust_z,
    top_contributors
from cost_anomalies
where usage_date between $start_date and $end_date
order by usage_date, abs(dollar_impact) desc, metric, scope
