-- check cost_attribution.every_line_has_one_category: attribution rows without a category, workload or rule (must return no row).
-- Parameters: $start_date, $end_date.
select usage_date, service_code, usage_type, resource_id, effective_cost
from cost_attribution
where usage_date between $start_date and $end_date
    and (category is null or workload is null or rule_id is null)
