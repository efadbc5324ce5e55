-- anomalies: the decisions layer's anomalies table, shown as it is when the warehouse has one (the report renders without it).
-- Reads: anomalies. Parameters: $limit.
select * from anomalies
limit $limit
