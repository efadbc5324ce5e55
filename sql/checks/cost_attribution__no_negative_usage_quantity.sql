-- check cost_attribution.no_negative_usage_quantity: usage lines with a negative quantity (must return no row). Savings Plan negation lines
-- cancel covered usage and are not usage of their own.
-- Parameters: $start_date, $end_date.
select source_file, source_row, usage_date, usage_type, resource_id, usage_quantity
from line_items
where usage_quantity < 0
    and charge_category = 'Usage'
    and line_item_type is distinct from 'SavingsPlanNegation'
    and usage_date between $start_date and $end_date
