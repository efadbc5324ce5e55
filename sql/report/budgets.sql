-- budgets: the decisions layer's budgets table (budget_status), shown as it is when the warehouse has one (the report renders without it).
-- Reads: budget_status. Parameters: $limit.
select * from budget_status
limit $limit
