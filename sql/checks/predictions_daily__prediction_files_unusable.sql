-- check predictions_daily.prediction_files_unusable: prediction files that gave no successful prediction, or whose lines were
-- mostly skipped (a warning: the day's cost per prediction would be NULL or built on a sliver of the traffic,
-- and the run would otherwise end quietly). One row per such file, with the figures to act on.
-- Reads: prediction_files (one row per file read: pipelines/predictions/counts.py FILE_SCHEMA).
-- Parameters: $max_skipped_share (share of a file's lines that may be skipped before it is reported).
select
    file,
    family,
    lines_read,
    lines_skipped,
    lines_unfinished,
    successful,
    first_problem
from prediction_files
where successful = 0 or lines_skipped > $max_skipped_share * lines_read
order by file
