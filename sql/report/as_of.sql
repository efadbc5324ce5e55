-- as_of: the report's last day: the latest UTC day with attributed cost.
-- Reads: cost_by_category_daily.
select max(usage_date) as as_of from cost_by_category_daily
