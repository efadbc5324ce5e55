"""The file-reading layer the GPU and prediction readers share (pipelines/file_reading), and a one-day GPU read.

Each test of a unified rule feeds a file in the shape a real tool or script writes to the reader that refused
it before the two stacks shared one rule; the one-day test shows that a read of one day parses no file of another
month and gives that day the same samples as a read of everything.
"""

from __future__ import annotations

import os
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import polars as pl
import pytest

from pipelines.file_reading.timestamps import TimestampParser, may_hold_times_within, parse_timestamps, to_us
from pipelines.gpu.samples import read_gpu_samples
from pipelines.predictions import read_predictions

INSTANCE = "i-0123456789abcdef0"


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


def epoch_s(dt: datetime) -> int:
    return int(dt.timestamp())


# --- One timestamp rule, two engines (row by row for the GPU logs, a column at once for predictions) --------

NOON = utc(2026, 10, 31, 12)
# | text                             | zone of naive times | UTC instant            | why                              |
TIMESTAMPS = [
    ("2026-10-31T12:00:00Z", None, NOON, "ISO with Z"),
    ("2026-10-31 12:00:00.000 UTC", None, NOON, "Athena's timestamp with time zone"),
    ("2026-10-31T14:00:00+02:00", None, NOON, "offset with colon"),
    ("2026-10-31T14:00:00+0200", None, NOON, "offset without colon"),
    ("2026-10-31T14:00:00+02", None, NOON, "hours-only offset"),
    ("20261031T120000Z", None, NOON, "ISO basic form"),
    ("2026/10/31 13:00:00.000", "Europe/Paris", NOON, "nvidia-smi local time, CET after Oct 25"),
    ("2026-10-31", None, utc(2026, 10, 31), "a bare date is that UTC day"),
    (str(epoch_s(NOON)), None, NOON, "epoch seconds"),
    (str(epoch_s(NOON) * 1000), None, NOON, "epoch milliseconds"),
    (str(epoch_s(NOON) * 1_000_000), None, NOON, "epoch microseconds"),
    (str(epoch_s(NOON) * 1_000_000_000), None, NOON, "epoch nanoseconds (date +%s%N)"),
    ("2026-10-25 02:30:00", "Europe/Paris", utc(2026, 10, 25, 0, 30), "repeated hour: first occurrence"),
]
# | text                  | zone | problem starts with                       |
NOT_TIMESTAMPS = [
    ("5", None, "epoch value '5' is not a time between 1973 and 5138"),
    ("2026-10-31T12:00:00", None, "timestamp '2026-10-31T12:00:00' has no time zone"),
    ("monday", None, "cannot parse timestamp 'monday'"),
]


@pytest.mark.parametrize(("text", "zone", "expected", "why"), TIMESTAMPS)
def test_both_engines_read_a_timestamp_alike(text, zone, expected, why):
    readings, problem = TimestampParser(zone).parse_with_problem(text)
    assert problem is None, why
    assert readings[0] == to_us(expected), why
    parsed = parse_timestamps(pl.Series("ts", [text]), naive_timezone=zone)
    assert parsed.problems.to_list() == [None], why
    assert parsed.values.to_list() == [expected], why


@pytest.mark.parametrize(("text", "zone", "problem"), NOT_TIMESTAMPS)
def test_both_engines_refuse_a_non_timestamp_alike(text, zone, problem):
    readings, scalar_problem = TimestampParser(zone).parse_with_problem(text)
    assert readings is None and scalar_problem.startswith(problem)
    parsed = parse_timestamps(pl.Series("ts", [text]), naive_timezone=zone)
    assert parsed.values.to_list() == [None]
    assert parsed.problems[0].startswith(problem)


# --- Rules one stack lacked, in the shapes real tools write ------------------------------------------------


def test_gpu_log_with_epoch_nanoseconds_from_a_shell_loop(tmp_path):
    # while true; do echo "$(date +%s%N),$(nvidia-smi --query-gpu=index,utilization.gpu --format=csv,noheader,nounits)"
    # >> gpu.csv; sleep 10; done   (the old GPU reader took epoch s and ms only: every line was unreadable)
    t0 = epoch_s(NOON) * 1_000_000_000
    path = write(
        tmp_path / INSTANCE / "gpu.csv",
        "timestamp,index,utilization.gpu\n"
        f"{t0},0,40\n"
        f"{t0 + 10_000_000_000},0,60\n"
        f"{t0 + 20_000_000_000},0,100\n",
    )
    result = read_gpu_samples(tmp_path)
    assert result.rejected_files == {}
    # | ts (UTC)  | value | interval_seconds |
    # | 12:00:00  | 0.40  | 10 (nominal)     |
    # | 12:00:10  | 0.60  | 10               |
    # | 12:00:20  | 1.00  | 10               |
    assert result.samples.select("ts", "value", "interval_seconds").rows() == [
        (datetime(2026, 10, 31, 12, 0, 0), 0.4, 10.0),
        (datetime(2026, 10, 31, 12, 0, 10), 0.6, 10.0),
        (datetime(2026, 10, 31, 12, 0, 20), 1.0, 10.0),
    ]
    assert result.files_read == [str(path)]


def test_dcgm_csv_from_athena_with_utc_word(tmp_path):
    # An Athena query over exported Prometheus samples prints `timestamp with time zone` as "... UTC".
    write(
        tmp_path / "dcgm.csv",
        "timestamp,__name__,Hostname,gpu,value\n"
        "2026-10-31 12:00:00.000 UTC,DCGM_FI_DEV_GPU_UTIL,node-1,0,25\n"
        "2026-10-31 12:00:30.000 UTC,DCGM_FI_DEV_GPU_UTIL,node-1,0,75\n",
    )
    result = read_gpu_samples(tmp_path, resource_map={"node-1": INSTANCE})
    assert result.rejected_files == {}
    assert result.samples.select("ts", "resource_id", "value").rows() == [
        (datetime(2026, 10, 31, 12, 0, 0), INSTANCE, 0.25),
        (datetime(2026, 10, 31, 12, 0, 30), INSTANCE, 0.75),
    ]


def test_request_log_of_a_go_service_with_slash_dates(tmp_path):
    # Go's time.Format("2006/01/02 15:04:05"), UTC; the old prediction reader could not parse slashes.
    write(
        tmp_path / "requests.csv",
        "time,model,status\n2026/10/31 23:59:59,fraud,200\n2026/11/01 00:00:01,fraud,500\n",
    )
    result = read_predictions(tmp_path, naive_timezone="UTC")
    assert result.rejected_files == {}
    # | usage_date | invocations | failed | predictions |
    assert result.daily.select("usage_date", "invocations", "failed_requests", "predictions").rows() == [
        (date(2026, 10, 31), 1, 0, 1.0),
        (date(2026, 11, 1), 1, 1, 0.0),
    ]


def test_request_log_redirected_by_windows_powershell_is_utf16(tmp_path):
    # `python serve.py > requests.csv` in Windows PowerShell 5 writes UTF-16 LE with a BOM; offsets "+02:00".
    text = "timestamp,model\r\n2026-10-31T01:30:00+02:00,fraud\r\n2026-10-31T10:00:00+02:00,fraud\r\n"
    (tmp_path / "requests.csv").write_bytes(text.encode("utf-16"))
    result = read_predictions(tmp_path)
    assert result.rejected_files == {}
    # 01:30+02:00 is Oct 30 23:30 UTC; 10:00+02:00 is Oct 31 08:00 UTC.
    assert result.daily.select("usage_date", "invocations").rows() == [
        (date(2026, 10, 30), 1),
        (date(2026, 10, 31), 1),
    ]


def test_counter_in_the_repeated_hour_reads_as_its_first_occurrence(tmp_path):
    # Clocks in Paris went back at 03:00 on 2026-10-25: 02:30 happened twice. The old prediction reader skipped
    # the line as ambiguous; the GPU reader (and now both) reads the first occurrence, 00:30 UTC.
    write(tmp_path / "counts.csv", "timestamp,model,count\n2026-10-25 02:30:00,fraud,7\n")
    result = read_predictions(tmp_path, naive_timezone="Europe/Paris")
    assert result.skipped_lines == {}
    assert result.intervals.select("timestamp", "invocations").rows() == [(utc(2026, 10, 25, 0, 30), 7.0)]


def test_markers_and_notes_in_a_gpu_log_folder_are_ignored_not_rejected(tmp_path):
    # A folder synced from S3 after a Spark/Glue job carries _SUCCESS; people leave a README. Both stacks list
    # them as ignored with the reason (the GPU reader used to reject them as logs of an unknown format).
    log = write(
        tmp_path / INSTANCE / "gpu.csv", "timestamp,index,utilization.gpu\n2026/10/31 12:00:00.000,0,50\n"
    )
    write(tmp_path / "_SUCCESS", "")
    write(tmp_path / "README.md", "# GPU logs of the fleet\n")
    write(tmp_path / "hosts.csv", f"host,resource_id\nnode-1,{INSTANCE}\n")
    result = read_gpu_samples(tmp_path)
    assert result.rejected_files == {}
    assert result.files_read == [str(log)]
    assert result.ignored_files == {
        str(tmp_path / "README.md"): "a .md file is not data",
        str(tmp_path / "_SUCCESS"): "name starts with '_' (a job marker or metadata file)",
        str(tmp_path / "hosts.csv"): "a host,resource_id mapping file",
    }


def test_skipped_lines_are_surfaced_the_same_way_by_both_readers(tmp_path):
    gpu = write(
        tmp_path / "gpu" / INSTANCE / "gpu.csv",
        "timestamp,index,utilization.gpu\n2026/10/31 12:00:00.000,0,50\nmonday,0,50\n",
    )
    requests = write(
        tmp_path / "pred" / "requests.csv", "timestamp,model\n2026-10-31T12:00:00Z,m\nmonday,m\n"
    )
    gpu_result = read_gpu_samples(tmp_path / "gpu")
    pred_result = read_predictions(tmp_path / "pred")
    # | reader      | file         | skipped | first reason                      |
    assert gpu_result.skipped_lines == {str(gpu): 1}
    assert pred_result.skipped_lines == {str(requests): 1}
    assert gpu_result.skip_reasons == {str(gpu): [f"{gpu}, line 3: timestamp 'monday' cannot be parsed"]}
    assert pred_result.skip_reasons == {
        str(requests): [
            f"{requests}, line 3, column 'timestamp': cannot parse timestamp 'monday' (expected ISO 8601 with a"
            " zone (Z or +02:00) or epoch seconds/milliseconds)"
        ]
    }


# --- A one-day read parses only what can fall on that day ----------------------------------------------------

GPU0 = 'gpu="0",UUID="GPU-aaa",modelName="NVIDIA A10G",Hostname="node-1"'


def scrape(start: datetime, count: int, step_s: int = 30) -> str:
    """DCGM exporter scrapes saved with their times (what `curl :9400/metrics` plus a timestamp writer keeps)."""
    lines = ["# HELP DCGM_FI_DEV_GPU_UTIL GPU utilization (in %).", "# TYPE DCGM_FI_DEV_GPU_UTIL gauge"]
    for i in range(count):
        ms = epoch_s(start + timedelta(seconds=i * step_s)) * 1000
        lines.append(f"DCGM_FI_DEV_GPU_UTIL{{{GPU0}}} {10 + i % 80} {ms}")
    return "\n".join(lines) + "\n"


def nvidia_smi(start: datetime, count: int) -> list[str]:
    return [
        f"{(start + timedelta(seconds=i)).strftime('%Y/%m/%d %H:%M:%S')}.000, 0, NVIDIA A10G, {i % 100} %"
        for i in range(count)
    ]


def on_day(samples: pl.DataFrame, day: date) -> pl.DataFrame:
    """The samples gpu_samples publishes for ``day``: those whose interval [ts - interval, ts) starts on it."""
    start = pl.col("ts") - pl.duration(microseconds=(pl.col("interval_seconds") * 1e6).cast(pl.Int64))
    return samples.filter(start.dt.date() == day).sort("source_file", "gpu_index", "metric", "ts")


def test_one_day_read_skips_other_months_and_gives_the_same_samples(tmp_path):
    dcgm = tmp_path / "dcgm" / "node-1"
    write(tmp_path / "dcgm" / "hosts.csv", f"host,resource_id\nnode-1,{INSTANCE}\n")
    # A September file copied last week (fresh mtime), with a line that would count as skipped if parsed.
    bad_line = f"DCGM_FI_DEV_GPU_UTIL{{{GPU0}}} N/A {epoch_s(utc(2026, 9, 15, 11)) * 1000}\n"
    september = write(dcgm / "2026-09-15.prom", scrape(utc(2026, 9, 15, 10), 20) + bad_line)
    # A September file as the logger left it: last modified on Sept 16.
    old = write(dcgm / "2026-09-16.prom", scrape(utc(2026, 9, 16, 10), 20))
    os.utime(old, (epoch_s(utc(2026, 9, 16, 11)), epoch_s(utc(2026, 9, 16, 11))))
    # The days around Oct 31, one file a day, scrapes every 30 s across both midnights.
    write(dcgm / "2026-10-30.prom", scrape(utc(2026, 10, 30, 23, 58), 4))
    write(dcgm / "2026-10-31.prom", scrape(utc(2026, 10, 31), 6) + scrape(utc(2026, 10, 31, 23, 58), 4))
    write(dcgm / "2026-11-01.prom", scrape(utc(2026, 11, 1), 4))
    # One nvidia-smi log of a long-lived instance: a September block and a block across Oct 31's start.
    write(
        tmp_path / "nvidia-smi" / INSTANCE / "gpu.csv",
        "timestamp, index, name, utilization.gpu [%]\n"
        + "\n".join(nvidia_smi(utc(2026, 9, 20, 8), 5) + nvidia_smi(utc(2026, 10, 30, 23, 59, 57), 6))
        + "\n",
    )

    everything = read_gpu_samples(tmp_path)
    one_day = read_gpu_samples(tmp_path, days=(date(2026, 10, 31), date(2026, 10, 31)))

    # | file                    | whole read             | one-day read (Oct 31)                          |
    # | dcgm .../2026-09-15     | parsed, 1 line skipped | not parsed: its times are all in September     |
    # | dcgm .../2026-09-16     | parsed                 | not parsed: last modified Sept 16              |
    # | dcgm .../2026-10-30..11-01 | parsed              | parsed                                         |
    # | nvidia-smi gpu.csv      | parsed                 | parsed, September rows dropped as read         |
    assert everything.skipped_lines[str(september)] == 1
    assert len(everything.files_read) == 6
    assert one_day.files_outside_days == {
        str(september): "every time in its name and content lies outside the days read",
        str(old): "last modified before the days read: it holds no sample of them",
    }
    assert len(one_day.files_read) == 4 and str(september) not in one_day.skipped_lines
    assert one_day.samples["ts"].min() >= datetime(2026, 10, 30)

    # The day's samples are the same, intervals included. A sample stands for [ts - interval, ts):
    # | source     | samples whose interval starts on Oct 31                                  | count |
    # | DCGM       | 00:00:30-00:02:30 (5), 23:58:00-23:59:30 (4), Nov 1 00:00:00 (1)           | 10    |
    # | nvidia-smi | 00:00:01, 00:00:02 (00:00:00 stands for Oct 30 23:59:59-24:00)             | 2     |
    day = on_day(one_day.samples, date(2026, 10, 31))
    assert day.group_by("source_format").len().sort("source_format").rows() == [
        ("dcgm_prometheus", 10),
        ("nvidia_smi", 2),
    ]
    assert day.equals(on_day(everything.samples, date(2026, 10, 31)))


def test_a_file_whose_times_cannot_be_seen_is_read(tmp_path):
    # No date or epoch number in the text (a scrape whose time is only in its name) may hold any time.
    assert may_hold_times_within('DCGM_FI_DEV_GPU_UTIL{gpu="0"} 87\n', 0, 1)
    window = (to_us(utc(2026, 10, 30)), to_us(utc(2026, 11, 2)))
    assert not may_hold_times_within("2026/09/15 10:00:00.000, 0, 50 %\n", *window)
    # A local date one day off may be the window's first hours in a zone ahead of UTC: kept.
    assert may_hold_times_within("2026/10/29 23:30:00.000, 0, 50 %\n", *window)
    assert not may_hold_times_within(f"x 1 {epoch_s(utc(2026, 9, 15)) * 1000}\n", *window)


# --- Mapping CSVs: one reader for hosts.csv, endpoint,workload and pod_workloads.csv -----------------------


def test_hosts_csv_saved_from_a_spreadsheet(tmp_path):
    # Excel's "CSV UTF-8" export: a BOM, CRLF, the header as people type it ("Instance ID"). The old GPU reader
    # compared lower-cased names only and refused "instance id"; header names now match as the prediction
    # readers matched theirs (case, spaces, dashes, BOM).
    (tmp_path / "hosts.csv").write_bytes(f"\ufeffHost,Instance ID\r\nnode-1,{INSTANCE}\r\n".encode())
    write(
        tmp_path / "dcgm.csv",
        "timestamp,__name__,Hostname,gpu,value\n2026-10-31T12:00:00Z,DCGM_FI_DEV_GPU_UTIL,node-1,0,40\n",
    )
    result = read_gpu_samples(tmp_path)
    assert result.rejected_files == {}
    assert result.samples.select("resource_id", "value").rows() == [(INSTANCE, 0.4)]


def test_workload_map_with_a_trailing_comma_on_a_hand_edited_line(tmp_path):
    # The old prediction reader refused a line with one empty cell more than the header; hosts.csv accepted it.
    write(tmp_path / "r.csv", "timestamp,model\n2026-10-31T12:00:00Z,fraud-ep\n")
    mapping = write(tmp_path / "map" / "m.csv", "endpoint,workload\nfraud-ep,fraud-model,\n")
    result = read_predictions(tmp_path / "r.csv", mapping_file=mapping)
    assert result.daily.select("endpoint", "workload", "predictions").rows() == [
        ("fraud-ep", "fraud-model", 1.0)
    ]


def test_a_line_with_something_in_an_extra_cell_is_still_an_error(tmp_path):
    from pipelines.errors import InputError
    from pipelines.gpu.resources import load_mapping_file

    path = write(tmp_path / "hosts.csv", f"host,resource_id\nnode-1,{INSTANCE},i-0fedcba9876543210\n")
    with pytest.raises(InputError) as caught:
        load_mapping_file(path)
    assert str(caught.value) == f"{path}, line 2: 3 fields where the header has 2"
