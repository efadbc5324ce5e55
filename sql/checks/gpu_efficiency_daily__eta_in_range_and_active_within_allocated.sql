-- check gpu_efficiency_daily.eta_in_range_and_active_within_allocated: GPU efficiency rows with an η outside [0, 1], active above observed, or observed above
-- allocated (must return no row). The table's hours and ratios are not clipped, so a log claiming more GPU time
-- than the bill (more GPUs in the log than on the instance, two loggers on one GPU) shows here. The tolerance is
-- float rounding of sums of sample seconds (1e-9 of the figure, at least 1e-9 hours), not a margin of error.
-- Parameters: $start_date, $end_date.
select
    usage_date,
    resource_id,
    eta,
    eta_observed,
    eta_allocated,
    eta_sm,
    eta_power,
    active_gpu_hours,
    observed_gpu_hours,
    allocated_gpu_hours,
    observed_beyond_allocated_gpu_hours,
    gpus_in_log,
    gpus_billed
from gpu_efficiency_daily
where usage_date between $start_date and $end_date
    and (
        eta < 0 or eta > 1 + 1e-9
        or eta_observed < 0 or eta_observed > 1 + 1e-9
        or eta_allocated < 0 or eta_allocated > 1 + 1e-9
        or eta_sm < 0 or eta_sm > 1 + 1e-9
        or eta_power < 0 or eta_power > 1 + 1e-9
        or active_gpu_hours > observed_gpu_hours * (1 + 1e-9) + 1e-9
        or observed_gpu_hours > allocated_gpu_hours * (1 + 1e-9) + 1e-9
    )
