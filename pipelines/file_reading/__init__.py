"""The file-reading layer the GPU and prediction readers share: one set of rules for the same things.

- ``listing``: which files of a folder are data (hidden, job markers, documentation, mapping files left out);
- ``content``: a file's bytes as text (gzip unwrapped, UTF-16 with a BOM, NUL bytes refused);
- ``timestamps``: timestamps with zones and epoch units to UTC microseconds, row by row or a column at once,
  and whether a file can hold a time within a window of days (to skip it without parsing every row);
- ``mapping_csv``: two-column mapping CSVs (``host,resource_id``; ``endpoint,workload``);
- ``skipped``: skipped-line accounting, a count and the first reasons per file.
"""
