-- recommendations: the decisions layer's recommendations table (recommendations), shown as it is when the warehouse has one (the report renders without it).
-- Reads: recommendations. Parameters: $limit.
select * from recommendations
limit $limit
