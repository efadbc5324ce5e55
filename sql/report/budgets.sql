-- budgets: the decisions layer's budgets table, shown as it is when the warehouse has one (the report renders without it).
-- Reads: budgets. Parameters: $limit.
select * from budgets
limit $limit
