-- check gpu_efficiency_daily.gpu_count_matches_bill (warning): resources and days whose logs show another number of GPUs than the bill has
-- running at once (gpus_billed: instances in the busiest billed interval × GPUs per instance). More GPUs than
-- billed is a log mapped to the wrong resource (an 8-GPU host's log on a 1-GPU instance); fewer is a log that
-- misses GPUs (those GPUs are unobserved, see coverage). Logs that do not tell GPUs apart (no index or UUID) are
-- not compared. observed_beyond_allocated_gpu_hours is the GPU time the logs claim beyond the bill.
-- Parameters: $start_date, $end_date.
select
    resource_id,
    usage_date,
    instance_type,
    gpus_in_log,
    gpus_billed,
    observed_gpu_hours,
    allocated_gpu_hours,
    observed_beyond_allocated_gpu_hours
from gpu_efficiency_daily
where usage_date between $start_date and $end_date
    and gpus_in_log is not null
    and gpus_in_log <> gpus_billed
order by usage_date, resource_id
