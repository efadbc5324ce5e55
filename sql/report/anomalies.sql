-- anomalies: the decisions layer's anomalies table (cost_anomalies), shown as it is when the warehouse has one (the report renders without it).
-- Reads: cost_anomalies. Parameters: $limit.
select * from cost_anomalies
limit $limit
