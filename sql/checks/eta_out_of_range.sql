-- check eta_out_of_range: GPU efficiency rows with η outside [0, 1] or active above allocated (must return no row).
-- Parameters: $start_date, $end_date.
select usage_date, resource_id, eta, eta_sm, active_gpu_hours, allocated_gpu_hours
from gpu_efficiency_daily
where usage_date between $start_date and $end_date
    and (
        eta < 0 or eta > 1 or eta_sm < 0 or eta_sm > 1
        or active_gpu_hours > allocated_gpu_hours + 1e-9
        or observed_gpu_hours > allocated_gpu_hours + 1e-9
    )
