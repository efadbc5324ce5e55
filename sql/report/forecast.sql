-- forecast: the decisions layer's forecast table, shown as it is when the warehouse has one (the report renders without it).
-- Reads: forecast. Parameters: $limit.
select * from forecast
limit $limit
