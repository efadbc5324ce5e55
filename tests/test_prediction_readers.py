"""Prediction-count readers: each format with hand-checked numbers, bad input, duplicates, day edges."""

from __future__ import annotations

import gzip
import json
from datetime import UTC, date, datetime
from pathlib import Path

import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from pipelines.errors import InputError
from pipelines.predictions import read_predictions
from pipelines.predictions.value_parsing import parse_counts, parse_status, parse_timestamps

MAY1, MAY2 = date(2026, 5, 1), date(2026, 5, 2)


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def rows(result, *columns: str) -> list[tuple]:
    """Daily rows as tuples of the given columns, in (usage_date, endpoint) order."""
    return [tuple(r[c] for c in columns) for r in result.daily.iter_rows(named=True)]


def day(result, endpoint: str, usage_date: date) -> dict:
    found = result.daily.filter((pl.col("endpoint") == endpoint) & (pl.col("usage_date") == usage_date))
    assert found.height == 1, result.daily
    return found.row(0, named=True)


# --- SageMaker metrics ---------------------------------------------------------------------------------


def test_sagemaker_wide_csv_subtracts_4xx_and_5xx(tmp_path):
    write(
        tmp_path / "metrics.csv",
        "timestamp,EndpointName,VariantName,Invocations,Invocation4XXErrors,Invocation5XXErrors\n"
        "2026-05-01T00:00:00Z,fraud-ep,AllTraffic,100,2,3\n"
        "2026-05-01T00:01:00Z,fraud-ep,AllTraffic,50,,1\n"  # blank 4XX cell: no datapoint, not an error
        "2026-05-01T00:01:00Z,fraud-ep,Canary,20,0,0\n",
    )
    result = read_predictions(tmp_path)
    assert rows(result, "usage_date", "endpoint", "invocations", "failed_requests", "predictions") == [
        (MAY1, "fraud-ep", 170, 6, 164.0)
    ]
    assert rows(result, "source", "source_files", "workload") == [("sagemaker_csv", 1, None)]
    assert result.skipped_lines == {} and result.rejected_files == {}
    assert result.intervals.height == 3
    assert result.intervals["variant"].to_list() == ["AllTraffic", "AllTraffic", "Canary"]


def test_sagemaker_long_csv_ignores_other_metrics_with_a_note(tmp_path):
    write(
        tmp_path / "long.csv",
        "timestamp,EndpointName,VariantName,MetricName,value\n"
        "2026-05-01 10:00:00,ep1,v1,Invocations,40\n"  # CloudWatch time: no zone means UTC
        "2026-05-01 10:00:00,ep1,v1,Invocation5XXErrors,4\n"
        "2026-05-01 10:00:00,ep1,v1,ModelLatency,12345\n",
    )
    result = read_predictions(tmp_path)
    assert rows(result, "invocations", "failed_requests", "predictions") == [(40, 4, 36.0)]
    assert any("ignored 1 rows of other metrics (ModelLatency)" in w for w in result.warnings)


def test_get_metric_data_json_label_convention_and_id_convention(tmp_path):
    document = {
        "MetricDataResults": [
            {
                "Id": "m1",
                "Label": "ep-a AllTraffic Invocations",
                "Timestamps": ["2026-05-01T00:00:00+00:00", "2026-05-01T00:01:00+00:00"],
                "Values": [10.0, 5.0],
                "StatusCode": "Complete",
            },
            {
                "Id": "ep_a_invocation4xxerrors",
                "Label": "ep-a AllTraffic",
                "Timestamps": ["2026-05-01T00:00:00+00:00"],
                "Values": [2.0],
                "StatusCode": "Complete",
            },
            {"Id": "lat", "Label": "ep-a AllTraffic ModelLatency", "Timestamps": [], "Values": []},
        ],
        "Messages": [],
    }
    write(tmp_path / "gmd.json", json.dumps(document))
    result = read_predictions(tmp_path)
    assert rows(result, "endpoint", "invocations", "failed_requests", "predictions", "source") == [
        ("ep-a", 15, 2, 13.0, "sagemaker_json")
    ]


def test_get_metric_statistics_takes_the_endpoint_from_the_path(tmp_path):
    datapoints = {
        "Label": "Invocations",
        "Datapoints": [
            {"Timestamp": "2026-05-01T23:59:00Z", "Sum": 7.0, "Unit": "None"},
            {"Timestamp": "2026-05-02T00:00:00Z", "Sum": 3.0, "Unit": "None"},
        ],
    }
    errors = {
        "Label": "Invocation5XXErrors",
        "Datapoints": [{"Timestamp": "2026-05-02T00:00:00Z", "Sum": 1.0}],
    }
    write(tmp_path / "search-ep" / "invocations.json", json.dumps(datapoints))
    write(tmp_path / "EndpointName=rank-ep" / "VariantName=blue" / "x" / "errors.json", json.dumps(errors))
    result = read_predictions(tmp_path)
    assert rows(result, "usage_date", "endpoint", "invocations", "failed_requests", "predictions") == [
        (MAY1, "search-ep", 7, 0, 7.0),
        (MAY2, "rank-ep", 0, 1, 0.0),
        (MAY2, "search-ep", 3, 0, 3.0),
    ]
    assert result.intervals.filter(pl.col("endpoint") == "rank-ep")["variant"].to_list() == ["blue"]
    assert any("endpoint 'search-ep' taken from the file's folder" in w for w in result.warnings)
    # A day with errors and no invocations is reported, never negative.
    assert any("rank-ep on 2026-05-02: 1 failed requests exceed 0 invocations" in w for w in result.warnings)


def test_overlapping_sagemaker_exports_count_each_datapoint_once_and_keep_the_larger(tmp_path):
    header = "timestamp,EndpointName,VariantName,MetricName,value\n"
    write(
        tmp_path / "export1.csv",
        header + "2026-05-01T00:00:00Z,ep,v,Invocations,10\n2026-05-01T00:01:00Z,ep,v,Invocations,20\n",
    )
    write(
        tmp_path / "export2.csv",
        header + "2026-05-01T00:01:00Z,ep,v,Invocations,20\n2026-05-01T00:02:00Z,ep,v,Invocations,30\n",
    )
    gmd = {
        "MetricDataResults": [
            {
                "Id": "a",
                "Label": "ep v Invocations",
                "Timestamps": ["2026-05-01T00:02:00Z", "2026-05-01T00:03:00Z"],
                "Values": [35, 40],  # 00:02 disagrees with export2 (30): keep 35 and count a conflict
                "StatusCode": "PartialData",
            }
        ]
    }
    write(tmp_path / "late.json", json.dumps(gmd))
    result = read_predictions(tmp_path)
    assert rows(result, "invocations", "predictions", "source", "source_files") == [
        (10 + 20 + 35 + 40, 105.0, "sagemaker_csv,sagemaker_json", 3)
    ]
    assert result.conflicts == 1
    assert any("1 datapoints had different values" in w for w in result.warnings)


def test_sagemaker_bad_datapoints_are_skipped_and_named(tmp_path):
    write(
        tmp_path / "m.csv",
        "timestamp,EndpointName,VariantName,Invocations,Invocation5XXErrors\n"
        "2026-05-01T00:00:00Z,ep,v,10,1\n"
        "2026-05-01T00:01:00Z,ep,v,ten,0\n"
        "2026-05-01T00:02:00Z,ep,v,-4,0\n"
        "yesterday,ep,v,5,0\n"
        "2026-05-01T00:03:00Z,ep,v,2.5,0\n",
    )
    result = read_predictions(tmp_path)
    key = str(tmp_path / "m.csv")
    assert result.skipped_lines == {key: 4}
    assert rows(result, "invocations", "failed_requests", "predictions") == [(10, 1, 9.0)]
    assert f"{key}, line 3, column 'Invocations': not a number: 'ten'" in result.warnings
    assert f"{key}, line 4, column 'Invocations': negative count: '-4'" in result.warnings
    assert any(
        w.startswith(f"{key}, line 5, column 'timestamp': cannot parse timestamp") for w in result.warnings
    )
    assert f"{key}, line 6, column 'Invocations': not a whole number: '2.5'" in result.warnings


def test_unreliable_or_unnamed_cloudwatch_series_are_skipped_and_counted(tmp_path):
    document = [
        {
            "MetricDataResults": [
                {"Label": "ep v Invocations", "Timestamps": ["2026-05-01T00:00:00Z"], "Values": [9]},
                {
                    "Label": "ep v Invocation5XXErrors",
                    "Timestamps": ["2026-05-01T00:00:00Z", "2026-05-01T00:01:00Z"],
                    "Values": [1, 1],
                    "StatusCode": "InternalError",
                },
            ]
        },
        {
            "MetricDataResults": [
                {
                    "Label": "my ep v Invocations",
                    "Timestamps": ["2026-05-01T00:02:00Z", "2026-05-01T00:03:00Z", "2026-05-01T00:04:00Z"],
                    "Values": [1, 2, 3],
                }
            ]
        },
    ]
    path = write(tmp_path / "pages.json", json.dumps(document))
    result = read_predictions(tmp_path)
    assert rows(result, "endpoint", "invocations", "failed_requests") == [("ep", 9, 0)]
    assert result.skipped_lines == {str(path): 2 + 3}
    assert (
        f"{path}, column '[0].MetricDataResults[1]': StatusCode InternalError: CloudWatch returned no "
        "reliable data for this series" in result.warnings
    )
    assert any(
        "column '[1].MetricDataResults[0]': label 'my ep v Invocations' has more words" in w
        for w in result.warnings
    )


def test_get_metric_data_with_mismatched_lengths_is_rejected(tmp_path):
    bad = {
        "MetricDataResults": [
            {"Id": "a", "Label": "ep v Invocations", "Timestamps": ["2026-05-01T00:00:00Z"]}
        ]
    }
    write(tmp_path / "bad.json", json.dumps(bad))
    result = read_predictions(tmp_path)
    assert result.rejected_files == {
        str(
            tmp_path / "bad.json"
        ): f"{tmp_path / 'bad.json'}, column 'MetricDataResults[0]': missing key 'Values'"
    }
    assert result.daily.height == 0 and result.files_read == []


# --- request logs --------------------------------------------------------------------------------------


def test_request_log_csv_counts_successes_and_failures(tmp_path):
    write(
        tmp_path / "requests.csv",
        "timestamp,model,status\n"
        "2026-05-01T10:00:00Z,bert,200\n"
        "2026-05-01T10:00:01Z,bert,ok\n"
        "2026-05-01T10:00:02Z,bert,\n"  # missing status counts as success
        "2026-05-01T10:00:03Z,bert,503\n"
        "2026-05-01T10:00:04Z,bert,error\n"
        "2026-05-01T10:00:05Z,bert,429\n",
    )
    result = read_predictions(tmp_path)
    assert rows(result, "endpoint", "invocations", "failed_requests", "predictions", "source") == [
        ("bert", 6, 3, 3.0, "request_log_csv")
    ]


def test_request_log_bad_lines_are_skipped_counted_and_named(tmp_path):
    write(
        tmp_path / "requests.jsonl",
        '{"timestamp": "2026-05-01T10:00:00Z", "model": "bert", "status": 200}\n'
        "{not json\n"
        '{"timestamp": "2026-05-01T10:00:00", "model": "bert", "status": 200}\n'
        '{"timestamp": "2026-05-01T11:00:00Z", "model": "", "status": 200}\n'
        '{"timestamp": "2026-05-01T12:00:00Z", "model": "bert", "status": "maybe"}\n'
        '{"timestamp": "2026-05-01T13:00:00Z", "model": "bert", "status": "ok"}\n',
    )
    result = read_predictions(tmp_path)
    key = str(tmp_path / "requests.jsonl")
    assert result.skipped_lines == {key: 4}
    assert rows(result, "invocations", "predictions", "source") == [(2, 2.0, "request_log_jsonl")]
    assert (
        f"{key}, line 2: invalid JSON: Expecting property name enclosed in double quotes" in result.warnings
    )
    assert any(
        w.startswith(f"{key}, line 3, column 'timestamp': timestamp '2026-05-01T10:00:00' has no time zone")
        for w in result.warnings
    )
    assert f"{key}, line 4, column 'model': empty model/endpoint" in result.warnings
    # An unknown status word names what is accepted.
    assert any(
        w.startswith(
            f"{key}, line 5, column 'status': unknown status 'maybe' (accepted: an HTTP code 100-599"
        )
        and "unfinished: pending, processing, running" in w
        for w in result.warnings
    )


def test_naive_timestamps_are_read_in_the_configured_zone(tmp_path):
    write(tmp_path / "r.csv", "timestamp,endpoint\n2026-05-01T23:30:00,ep\n2026-05-02T01:30:00,ep\n")
    result = read_predictions(tmp_path, naive_timezone="America/New_York")  # UTC-4 in May
    assert rows(result, "usage_date", "invocations") == [(MAY2, 2)]
    with pytest.raises(InputError, match="naive_timezone: unknown time zone 'Mars/Olympus'"):
        read_predictions(tmp_path, naive_timezone="Mars/Olympus")


def test_timezone_aware_timestamps_fall_on_their_utc_day(tmp_path):
    write(
        tmp_path / "r.jsonl",
        '{"timestamp": "2026-05-01T23:30:00-02:00", "endpoint": "ep"}\n'  # 01:30Z on May 2
        '{"timestamp": "2026-05-02T01:00:00+02:00", "endpoint": "ep"}\n'  # 23:00Z on May 1
        '{"timestamp": "2026-05-02T01:00:00+0200", "endpoint": "ep", "request_id": "x"}\n'
        '{"timestamp": 1777593600, "endpoint": "ep"}\n'  # epoch s = 2026-05-01T00:00:00Z
        '{"timestamp": 1777679999999, "endpoint": "ep"}\n',  # epoch ms = 2026-05-01T23:59:59.999Z
    )
    result = read_predictions(tmp_path)
    assert rows(result, "usage_date", "invocations") == [(MAY1, 4), (MAY2, 1)]
    assert result.intervals["timestamp"].to_list()[0] == datetime(2026, 5, 1, tzinfo=UTC)


def test_day_boundaries_23_59_59_999_and_midnight(tmp_path):
    write(
        tmp_path / "counts.csv",
        "timestamp,model,count\n"
        "2026-05-01T23:59:59.999Z,m,3\n"
        "2026-05-02T00:00:00Z,m,5\n"
        "2026-05-02T00:00:00.000+00:00,n,1\n",
    )
    result = read_predictions(tmp_path)
    assert rows(result, "usage_date", "endpoint", "predictions") == [
        (MAY1, "m", 3.0),
        (MAY2, "m", 5.0),
        (MAY2, "n", 1.0),
    ]


def test_request_ids_deduplicate_across_overlapping_exports(tmp_path):
    header = "request_id,timestamp,endpoint,status\n"
    write(
        tmp_path / "a.csv",
        header
        + "r1,2026-05-01T10:00:00Z,ep,200\nr2,2026-05-01T10:00:01Z,ep,200\nr3,2026-05-01T10:00:02Z,ep,500\n",
    )
    write(tmp_path / "b.csv", header + "r3,2026-05-01T10:00:02Z,ep,500\nr4,2026-05-01T10:00:03Z,ep,200\n")
    result = read_predictions(tmp_path)
    assert rows(result, "invocations", "failed_requests", "predictions", "source_files") == [(4, 1, 3.0, 2)]
    assert result.conflicts == 0


def test_rows_without_ids_repeated_in_an_overlapping_export_count_once(tmp_path):
    rows_a = "2026-05-01T10:00:00Z,ep,200\n" * 2 + "2026-05-01T10:00:01Z,ep,200\n"
    rows_b = "2026-05-01T10:00:00Z,ep,200\n" * 2 + "2026-05-01T10:00:02Z,ep,500\n"
    write(tmp_path / "a.csv", "timestamp,endpoint,status\n" + rows_a)
    write(tmp_path / "b.csv", "timestamp,endpoint,status\n" + rows_b)
    write(tmp_path / "copy_of_a.csv", "timestamp,endpoint,status\n" + rows_a)
    result = read_predictions(tmp_path)
    # Two identical requests in the same second are two requests; the copies in other files add nothing.
    assert rows(result, "invocations", "failed_requests", "predictions") == [(4, 1, 3.0)]


def test_request_log_as_a_json_array_of_records(tmp_path):
    records = [
        {"timestamp": "2026-05-01T08:00:00Z", "endpoint": "e", "status": "ok"},
        {"timestamp": "2026-05-01T08:00:01Z", "endpoint": "e", "status": False},
        {"timestamp": "2026-05-01T08:00:02Z", "endpoint": "e", "status": 201},
    ]
    write(tmp_path / "requests.json", json.dumps(records))
    result = read_predictions(tmp_path)
    assert rows(result, "invocations", "failed_requests", "predictions", "source") == [
        (3, 1, 2.0, "request_log_json")
    ]


def test_request_log_parquet_with_typed_columns(tmp_path):
    table = pa.table(
        {
            "ts": pa.array(
                [datetime(2026, 5, 1, 22, 0, tzinfo=UTC), datetime(2026, 5, 2, 0, 0, tzinfo=UTC)],
                pa.timestamp("ms", tz="UTC"),
            ),
            "model": ["gpt", "gpt"],
            "status_code": pa.array([200, 500], pa.int32()),
        }
    )
    pq.write_table(table, tmp_path / "requests.data")  # no suffix: the format comes from the content
    result = read_predictions(tmp_path)
    assert rows(result, "usage_date", "invocations", "failed_requests", "predictions", "source") == [
        (MAY1, 1, 0, 1.0, "request_log_parquet"),
        (MAY2, 1, 1, 0.0, "request_log_parquet"),
    ]


def test_gzipped_request_log_and_a_failing_day(tmp_path):
    lines = ["timestamp,model,status"]
    lines += [f"2026-05-01T10:00:{s:02d}Z,m,200" for s in range(8)]
    lines += [f"2026-05-02T10:00:{s:02d}Z,m,502" for s in range(5)]  # the whole day failed
    (tmp_path / "requests.csv.gz").write_bytes(gzip.compress(("\n".join(lines) + "\n").encode()))
    result = read_predictions(tmp_path)
    assert rows(result, "usage_date", "invocations", "failed_requests", "predictions") == [
        (MAY1, 8, 0, 8.0),
        (MAY2, 5, 5, 0.0),
    ]


# --- interval counts -----------------------------------------------------------------------------------


def test_interval_counts_with_errors_and_batching(tmp_path):
    write(
        tmp_path / "counts.csv",
        "timestamp,model,count,errors\n"
        "2026-05-01T00:00:00Z,ranker,100,10\n"
        "2026-05-01T01:00:00Z,ranker,50,\n"
        "2026-05-01T00:00:00Z,scorer,7,0\n",
    )
    result = read_predictions(tmp_path, predictions_per_invocation={"ranker": 32, "scorer": 1.5})
    assert rows(result, "endpoint", "invocations", "failed_requests", "predictions", "source") == [
        ("ranker", 150, 10, 140 * 32.0, "counts_csv"),
        ("scorer", 7, 0, 10.5, "counts_csv"),
    ]


def test_interval_counts_duplicates_across_files_count_once(tmp_path):
    header = "timestamp,model,count\n"
    write(tmp_path / "day1.csv", header + "2026-05-01T00:00:00Z,m,10\n2026-05-01T01:00:00Z,m,20\n")
    write(tmp_path / "day1_again.csv", header + "2026-05-01T01:00:00Z,m,20\n2026-05-01T02:00:00Z,m,30\n")
    write(tmp_path / "late.csv", header + "2026-05-01T02:00:00Z,m,31\n")
    result = read_predictions(tmp_path)
    assert rows(result, "invocations", "predictions", "source_files") == [(10 + 20 + 31, 61.0, 3)]
    assert result.conflicts == 1


def test_interval_counts_bad_lines(tmp_path):
    write(
        tmp_path / "c.csv",
        "timestamp,model,count,errors\n"
        "2026-05-01T00:00:00Z,m,10,1\n"
        "2026-05-01T01:00:00Z,m,many,0\n"
        "2026-05-01T02:00:00Z,m,-1,0\n"
        "2026-05-01T03:00:00Z,m,5,6\n"
        "not-a-time,m,5,0\n",
    )
    result = read_predictions(tmp_path)
    key = str(tmp_path / "c.csv")
    assert result.skipped_lines == {key: 4}
    assert rows(result, "invocations", "failed_requests", "predictions") == [(10, 1, 9.0)]
    assert f"{key}, line 3, column 'count': not a number: 'many'" in result.warnings
    assert f"{key}, line 5, column 'errors': 6 errors exceed the count of 5" in result.warnings


# --- whole files, folders, mapping ---------------------------------------------------------------------


def test_rejected_files_name_the_file_and_the_column(tmp_path):
    write(tmp_path / "no_model.csv", "timestamp,count\n2026-05-01T00:00:00Z,4\n")
    write(tmp_path / "no_time.csv", "model,status\nm,200\n")
    write(tmp_path / "all_bad.csv", "timestamp,model\nmonday,m\ntuesday,m\n")
    write(tmp_path / "ragged.csv", "timestamp,model\n2026-05-01T00:00:00Z,m\n2026-05-01T00:00:00Z,m,extra\n")
    write(tmp_path / "unknown.csv", "a,b\n1,2\n")
    (tmp_path / "binary.bin").write_bytes(b"\xff\xfe\x00garbage")
    write(tmp_path / "good.csv", "timestamp,model\n2026-05-01T00:00:00Z,m\n")
    result = read_predictions(tmp_path)
    rejected = {Path(k).name: v for k, v in result.rejected_files.items()}
    assert rejected["no_model.csv"] == (
        f"{tmp_path / 'no_model.csv'}, column 'model': missing required column (interval counts need a model)"
    )
    assert rejected["no_time.csv"].endswith(
        "column 'timestamp': missing required column (request logs need a timestamp)"
    )
    assert rejected["all_bad.csv"].startswith(
        f"{tmp_path / 'all_bad.csv'}, line 2, column 'timestamp': no usable line"
    )
    assert rejected["ragged.csv"] == (
        f"{tmp_path / 'ragged.csv'}, line 3: the line has a different number of fields than the header"
    )
    assert "not a recognised format" in rejected["unknown.csv"]
    assert "not UTF-8 text, Parquet or gzip" in rejected["binary.bin"]
    assert result.files_read == [str(tmp_path / "good.csv")]
    assert rows(result, "predictions") == [(1.0,)]
    with pytest.raises(InputError, match="all_bad.csv"):
        result.raise_for_rejected()


def test_hidden_files_mapping_files_and_workloads(tmp_path):
    write(tmp_path / ".hidden.csv", "timestamp,model\n2026-05-01T00:00:00Z,m\n")
    write(tmp_path / ".cache" / "x.csv", "timestamp,model\n2026-05-01T00:00:00Z,m\n")
    write(tmp_path / "_SUCCESS", "")
    write(tmp_path / "README.md", "# notes\n")
    mapping = write(tmp_path / "mapping.csv", "endpoint,workload\nfraud-ep,fraud-model\nm,recs\n")
    write(tmp_path / "sub" / "another_mapping.csv", "Endpoint,Workload\nx,y\n")
    write(tmp_path / "sub" / "r.csv", "timestamp,model\n2026-05-01T00:00:00Z,m\n2026-05-01T00:00:01Z,z\n")
    result = read_predictions(tmp_path, mapping_file=mapping, endpoint_map={"z": "zeta"})
    assert result.files_read == [str(tmp_path / "sub" / "r.csv")]
    assert rows(result, "endpoint", "workload") == [("m", "recs"), ("z", "zeta")]
    assert set(result.ignored_files) == {
        str(tmp_path / "_SUCCESS"),
        str(tmp_path / "README.md"),
        str(mapping),
        str(tmp_path / "sub" / "another_mapping.csv"),
    }
    assert result.rejected_files == {}


def test_bad_mapping_file_and_arguments_raise(tmp_path):
    write(tmp_path / "r.csv", "timestamp,model\n2026-05-01T00:00:00Z,m\n")
    mapping = write(tmp_path / "map" / "m.csv", "endpoint,workload\na,x\na,y\n")
    with pytest.raises(InputError) as info:
        read_predictions(tmp_path / "r.csv", mapping_file=mapping)
    assert (
        str(info.value) == f"{mapping}, line 3, column 'workload': endpoint 'a' is mapped to both 'x' and 'y'"
    )
    with pytest.raises(InputError, match="predictions_per_invocation, column 'm': must be a positive number"):
        read_predictions(tmp_path, predictions_per_invocation={"m": -2})
    with pytest.raises(InputError, match="no such file or folder"):
        read_predictions(tmp_path / "missing")


def test_one_family_per_endpoint_day_so_nothing_counts_twice(tmp_path):
    write(
        tmp_path / "sm.csv",
        "timestamp,EndpointName,VariantName,Invocations\n2026-05-01T00:00:00Z,ep,v,10\n",
    )
    write(
        tmp_path / "requests.csv",
        "timestamp,endpoint\n2026-05-01T00:00:00Z,ep\n2026-05-01T00:00:01Z,ep\n2026-05-02T00:00:00Z,ep\n",
    )
    result = read_predictions(tmp_path)
    assert rows(result, "usage_date", "invocations", "source") == [
        (MAY1, 10, "sagemaker_csv"),
        (MAY2, 1, "request_log_csv"),
    ]
    assert any(
        "ep on 2026-05-01: both sagemaker and request_log" in w and "set aside 2" in w
        for w in result.warnings
    )
    assert result.intervals["invocations"].sum() == 11


def test_empty_folder_gives_empty_frames_with_the_schema(tmp_path):
    result = read_predictions(tmp_path)
    assert result.daily.schema == pl.Schema(
        {
            "usage_date": pl.Date,
            "endpoint": pl.Utf8,
            "workload": pl.Utf8,
            "invocations": pl.Int64,
            "failed_requests": pl.Int64,
            "predictions": pl.Float64,
            "source": pl.Utf8,
            "source_files": pl.Int64,
        }
    )
    assert result.daily.height == 0 and result.intervals.height == 0


# --- value parsers -------------------------------------------------------------------------------------


def test_value_parsers_report_problems_row_by_row():
    ts = parse_timestamps(pl.Series(["2026-05-01T10:00:00+02", "20260501T100000Z", "", "1777593600123"]))
    assert ts.values.to_list()[:2] == [
        datetime(2026, 5, 1, 8, tzinfo=UTC),
        datetime(2026, 5, 1, 10, tzinfo=UTC),
    ]
    assert ts.values.to_list()[3] == datetime(2026, 5, 1, 0, 0, 0, 123000, tzinfo=UTC)
    assert ts.problems.to_list() == [None, None, "empty timestamp", None]
    counts = parse_counts(pl.Series(["3", "3.0", " 4 ", "1e3", "x"]))
    assert counts.values.to_list() == [3, 3, 4, 1000, None]
    status = parse_status(pl.Series([200, 299, 300, 404, None]))
    assert status.values.to_list() == ["ok", "ok", "failed", "failed", "ok"]
