-- forecast: the decisions layer's forecast table (month_end_forecast), shown as it is when the warehouse has one (the report renders without it).
-- Reads: month_end_forecast. Parameters: $limit.
select * from month_end_forecast
limit $limit
