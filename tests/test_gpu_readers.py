"""GPU utilization log readers: every format and variant read into gpu_samples, with values checked."""

from __future__ import annotations

import csv
import gzip
import json
import shutil
import tempfile
from datetime import datetime
from pathlib import Path

import polars as pl
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pipelines.errors import InputError
from pipelines.gpu.samples import SAMPLES_SCHEMA, read_gpu_file, read_gpu_samples

REALDATA = Path(__file__).resolve().parents[1].parent / "shared" / "realdata"
INSTANCE = "i-0123456789abcdef0"
OTHER_INSTANCE = "i-0fedcba9876543210"


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def rows(result, *columns: str) -> list[tuple]:
    return result.samples.select(columns).rows()


# --- DCGM exporter, Prometheus text ------------------------------------------------------------------

GPU0 = 'gpu="0",UUID="GPU-aaa",modelName="NVIDIA A10G",Hostname="node-1"'
GPU1 = 'gpu="1",UUID="GPU-bbb",modelName="NVIDIA A10G",Hostname="node-1"'
NO_POD = 'container="",namespace="",pod=""'
POD = 'pod="trainer-0",namespace="ml",container="main",note="say \\"hi\\", then go"'
DCGM_TIMESTAMPED = "\n".join(
    [
        "# HELP DCGM_FI_DEV_GPU_UTIL GPU utilization (in %).",
        "# TYPE DCGM_FI_DEV_GPU_UTIL gauge",
        f'DCGM_FI_DEV_GPU_UTIL{{{GPU0},device="nvidia0",{NO_POD}}} 87 1767268800000',
        f'DCGM_FI_DEV_GPU_UTIL{{{GPU1},device="nvidia1",{NO_POD}}} 0 1767268800000',
        "# HELP DCGM_FI_DEV_FB_USED Framebuffer memory used (in MiB).",
        f"DCGM_FI_DEV_FB_USED{{{GPU0}}} 1024 1767268800000",
        f"DCGM_FI_PROF_GR_ENGINE_ACTIVE{{{GPU0},{POD}}} 0.75 1767268800000",
        f"DCGM_FI_PROF_SM_ACTIVE{{{GPU0}}} 0.5 1767268800000",
        f'DCGM_FI_DEV_GPU_UTIL{{{GPU0},device="nvidia0",{NO_POD}}} 91 1767268830000',
        f'DCGM_FI_DEV_GPU_UTIL{{{GPU1},device="nvidia1",{NO_POD}}} 5 1767268830000',
        f"DCGM_FI_PROF_GR_ENGINE_ACTIVE{{{GPU0},{POD}}} 0.25 1767268830000",
        f"DCGM_FI_PROF_SM_ACTIVE{{{GPU0}}} 0.125 1767268830000",
        "this line is garbage",
        "",
    ]
)
T0 = datetime(2026, 1, 1, 12, 0, 0)
T30 = datetime(2026, 1, 1, 12, 0, 30)


def test_dcgm_text_with_timestamps(tmp_path):
    path = write(tmp_path / "scrapes.prom", DCGM_TIMESTAMPED)
    result = read_gpu_samples(path, resource_map={"node-1": INSTANCE})
    assert result.rejected_files == {}
    assert result.skipped_lines == {str(path): 1}  # the garbage line, counted
    assert dict(result.samples.schema) == SAMPLES_SCHEMA
    assert rows(result, "ts", "resource_id", "gpu_index", "metric", "value", "interval_seconds") == [
        (T0, INSTANCE, 0, "gpu_util", pytest.approx(0.87), 30.0),
        (T30, INSTANCE, 0, "gpu_util", pytest.approx(0.91), 30.0),
        (T0, INSTANCE, 0, "gr_engine_active", 0.75, 30.0),
        (T30, INSTANCE, 0, "gr_engine_active", 0.25, 30.0),
        (T0, INSTANCE, 0, "sm_active", 0.5, 30.0),
        (T30, INSTANCE, 0, "sm_active", 0.125, 30.0),
        (T0, INSTANCE, 1, "gpu_util", 0.0, 30.0),
        (T30, INSTANCE, 1, "gpu_util", pytest.approx(0.05), 30.0),
    ]
    first = result.samples.row(0, named=True)
    assert (first["host"], first["gpu_uuid"], first["gpu_model"]) == ("node-1", "GPU-aaa", "NVIDIA A10G")
    assert set(result.samples["source_format"]) == {"dcgm_prometheus"}
    assert set(result.samples["source_file"]) == {str(path)}


def test_dcgm_one_scrape_per_file_takes_time_from_file_name(tmp_path):
    scrape = 'DCGM_FI_DEV_GPU_UTIL{{gpu="0",UUID="GPU-aaa",hostname="node-2",pod_name="old-pod"}} {v}\n'
    write(tmp_path / "dcgm-2026-01-01T12:00:00Z.prom", scrape.format(v=40))
    write(tmp_path / "dcgm-2026-01-01T12-00-30Z.prom", scrape.format(v=60))
    write(tmp_path / "dcgm_1767268860.txt", scrape.format(v=80))  # epoch seconds in the name
    result = read_gpu_samples(tmp_path, resource_map={"node-2": INSTANCE})
    assert result.rejected_files == {}
    assert rows(result, "ts", "host", "value", "interval_seconds") == [
        (T0, "node-2", 0.4, 30.0),
        (T30, "node-2", 0.6, 30.0),
        (datetime(2026, 1, 1, 12, 1, 0), "node-2", 0.8, 30.0),
    ]


def test_dcgm_scrape_without_any_timestamp_is_rejected(tmp_path):
    good = write(tmp_path / "a" / "scrapes.prom", DCGM_TIMESTAMPED)
    bad = write(tmp_path / "b" / "metrics.prom", 'DCGM_FI_DEV_GPU_UTIL{gpu="0",Hostname="node-1"} 40\n')
    result = read_gpu_samples(tmp_path, resource_map={"node-1": INSTANCE})
    assert result.files_read == [str(good)]
    assert "no timestamps" in result.rejected_files[str(bad)]
    assert str(bad) in result.rejected_files[str(bad)]
    with pytest.raises(InputError, match="no timestamps"):
        read_gpu_file(bad, resource_map={"node-1": INSTANCE})


def test_dcgm_concatenated_scrapes_without_timestamps_are_rejected(tmp_path):
    line = 'DCGM_FI_DEV_GPU_UTIL{gpu="0",Hostname="node-1"} 40\n'
    path = write(tmp_path / "dcgm-2026-01-01T12:00:00Z.prom", line + line)
    with pytest.raises(InputError, match="appears twice without timestamps"):
        read_gpu_file(path, resource_map={"node-1": INSTANCE})


def test_dcgm_provider_id_label_maps_the_resource(tmp_path):
    text = (
        'DCGM_FI_PROF_GR_ENGINE_ACTIVE{gpu="3",UUID="GPU-ccc",Hostname="ip-10-0-0-1",'
        f'providerID="aws:///us-east-1a/{INSTANCE}"}} 0.5 1767268800000\n'
    )
    result = read_gpu_file(write(tmp_path / "x.prom", text))
    assert rows(result, "resource_id", "gpu_index", "value") == [(INSTANCE, 3, 0.5)]


def test_dcgm_escaped_label_values(tmp_path):
    text = (
        'DCGM_FI_DEV_GPU_UTIL{gpu="0",modelName="A \\"quoted\\", model",Hostname="h,1",'
        f'instance_id="{INSTANCE}"}} 12 1767268800000\n'
    )
    result = read_gpu_file(write(tmp_path / "x.prom", text))
    assert rows(result, "resource_id", "host", "gpu_model", "value") == [
        (INSTANCE, "h,1", 'A "quoted", model', 0.12)
    ]


# --- DCGM via Prometheus exports -----------------------------------------------------------------------


def test_prometheus_csv_export_epoch_seconds_and_name_column(tmp_path):
    text = (
        "timestamp,__name__,gpu,UUID,modelName,Hostname,value\n"
        "1767268800,DCGM_FI_DEV_GPU_UTIL,0,GPU-aaa,NVIDIA H100 80GB HBM3,node-1,50\n"
        "1767268800,DCGM_FI_DEV_FB_USED,0,GPU-aaa,NVIDIA H100 80GB HBM3,node-1,1000\n"
        "1767268830,DCGM_FI_DEV_GPU_UTIL,0,GPU-aaa,NVIDIA H100 80GB HBM3,node-1,70\n"
        "1767268830.5,DCGM_FI_PROF_GR_ENGINE_ACTIVE,0,GPU-aaa,NVIDIA H100 80GB HBM3,node-1,0.33\n"
    )
    result = read_gpu_file(write(tmp_path / "export.csv", text), resource_map={"node-1": INSTANCE})
    assert rows(result, "ts", "metric", "value", "gpu_model", "source_format") == [
        (T0, "gpu_util", 0.5, "NVIDIA H100 80GB HBM3", "dcgm_csv"),
        (T30, "gpu_util", 0.7, "NVIDIA H100 80GB HBM3", "dcgm_csv"),
        (
            datetime(2026, 1, 1, 12, 0, 30, 500000),
            "gr_engine_active",
            0.33,
            "NVIDIA H100 80GB HBM3",
            "dcgm_csv",
        ),
    ]


def test_prometheus_csv_export_rfc3339_and_series_in_metric_column(tmp_path):
    text = (
        "timestamp,metric,value\n"
        '2026-01-01T13:00:00+01:00,"DCGM_FI_DEV_GPU_UTIL{gpu=""1"",Hostname=""node-1""}",25\n'
        '2026-01-01T12:00:30Z,"DCGM_FI_DEV_GPU_UTIL{gpu=""1"",Hostname=""node-1""}",35\n'
    )
    result = read_gpu_file(write(tmp_path / "export.csv", text), resource_map={"node-1": INSTANCE})
    assert rows(result, "ts", "gpu_index", "value") == [(T0, 1, 0.25), (T30, 1, 0.35)]


def test_prometheus_csv_wide_grafana_export(tmp_path):
    text = (
        'Time,"DCGM_FI_DEV_GPU_UTIL{gpu=""0"", Hostname=""node-1""}",'
        '"DCGM_FI_DEV_GPU_UTIL{gpu=""1"", Hostname=""node-1""}"\n'
        "2026-01-01 12:00:00,10,20\n"
        "2026-01-01 12:00:30,30,\n"
    )
    result = read_gpu_file(write(tmp_path / "grafana.csv", text), resource_map={"node-1": INSTANCE})
    assert rows(result, "ts", "gpu_index", "value") == [(T0, 0, 0.1), (T30, 0, 0.3), (T0, 1, 0.2)]


def test_prometheus_query_range_json(tmp_path):
    payload = {
        "status": "success",
        "data": {
            "resultType": "matrix",
            "result": [
                {
                    "metric": {"__name__": "DCGM_FI_PROF_GR_ENGINE_ACTIVE", "gpu": "2", "Hostname": "node-1"},
                    "values": [[1767268800, "0.4"], [1767268830, "0.6"]],
                },
                {"metric": {"__name__": "up", "instance": "x"}, "values": [[1767268800, "1"]]},
            ],
        },
    }
    path = write(tmp_path / "range.json", json.dumps(payload))
    result = read_gpu_file(path, resource_map={"node-1": INSTANCE})
    assert rows(result, "ts", "gpu_index", "metric", "value", "source_format") == [
        (T0, 2, "gr_engine_active", 0.4, "dcgm_prometheus"),
        (T30, 2, "gr_engine_active", 0.6, "dcgm_prometheus"),
    ]


# --- nvidia-smi ---------------------------------------------------------------------------------------

NVSMI_HEADER = """\
timestamp, index, uuid, name, utilization.gpu [%], memory.used [MiB]
2026/01/01 12:00:00.000, 0, GPU-aaa, NVIDIA A100-SXM4-40GB, 95 %, 1024 MiB
2026/01/01 12:00:00.000, 1, GPU-bbb, NVIDIA A100-SXM4-40GB, 5 %, 10 MiB
2026/01/01 12:00:01.000, 0, GPU-aaa, NVIDIA A100-SXM4-40GB, 96 %, 1024 MiB
2026/01/01 12:00:01.000, 1, GPU-bbb, NVIDIA A100-SXM4-40GB, [N/A], 10 MiB
2026/01/01 12:00:02.000, 0, GPU-aaa, NVIDIA A100-SXM4-40GB, [Not Supported], 1024 MiB
2026/01/01 12:00:02.000, 1, GPU-bbb, NVIDIA A100-SXM4-40GB, 7 %, 10 MiB
"""


def test_nvidia_smi_with_header_units_and_path_convention(tmp_path):
    path = write(tmp_path / INSTANCE / "gpu.csv", NVSMI_HEADER)
    result = read_gpu_samples(tmp_path)
    assert result.rejected_files == {}
    assert result.skipped_lines == {str(path): 2}  # [N/A] and [Not Supported], counted
    assert rows(result, "ts", "resource_id", "gpu_index", "gpu_uuid", "value", "interval_seconds") == [
        (datetime(2026, 1, 1, 12, 0, 0), INSTANCE, 0, "GPU-aaa", 0.95, 1.0),
        (datetime(2026, 1, 1, 12, 0, 1), INSTANCE, 0, "GPU-aaa", 0.96, 1.0),
        (datetime(2026, 1, 1, 12, 0, 0), INSTANCE, 1, "GPU-bbb", 0.05, 2.0),
        (datetime(2026, 1, 1, 12, 0, 2), INSTANCE, 1, "GPU-bbb", 0.07, 2.0),
    ]
    assert set(result.samples["gpu_model"]) == {"NVIDIA A100-SXM4-40GB"}
    assert set(result.samples["source_format"]) == {"nvidia_smi"}


def test_nvidia_smi_noheader_default_columns(tmp_path):
    text = (
        "2026/01/01 12:00:00.000, 0, Tesla T4, 10 %\n"
        "2026/01/01 12:00:05.000, 0, Tesla T4, 20 %\n"
        "2026/01/01 12:00:10.000, 0, Tesla T4, 30 %\n"
    )
    result = read_gpu_file(write(tmp_path / "node.log", text), resource_map={"node": INSTANCE})
    assert rows(result, "gpu_index", "gpu_model", "value", "interval_seconds") == [
        (0, "Tesla T4", 0.1, 5.0),
        (0, "Tesla T4", 0.2, 5.0),
        (0, "Tesla T4", 0.3, 5.0),
    ]


def test_nvidia_smi_noheader_nounits_with_header_file(tmp_path):
    write(tmp_path / "gpu.header", "--query-gpu=timestamp,uuid,utilization.gpu,memory.used,index\n")
    text = "2026/01/01 12:00:00.000, GPU-x, 95, 1000, 3\n2026/01/01 12:00:01.000, GPU-x, 85, 1000, 3\n"
    path = write(tmp_path / "gpu.csv", text)
    result = read_gpu_samples(tmp_path, resource_map={"gpu.csv": INSTANCE})
    assert result.files_read == [str(path)]  # the header file is not read as a log
    assert rows(result, "gpu_index", "gpu_uuid", "value") == [(3, "GPU-x", 0.95), (3, "GPU-x", 0.85)]


def test_nvidia_smi_noheader_wider_than_default_without_header_file_is_rejected(tmp_path):
    text = "2026/01/01 12:00:00.000, 0, Tesla T4, 10 %, 3 %, 15360 MiB\n"
    with pytest.raises(InputError, match=r"noheader log with 6 columns"):
        read_gpu_file(write(tmp_path / "gpu.csv", text), resource_map={"gpu.csv": INSTANCE})


def test_nvidia_smi_custom_header_names_nounits_and_explicit_instance_column(tmp_path):
    text = (
        "instance_id,timestamp,index,name,gpu_util\n"
        f"{INSTANCE},2026/01/01 12:00:00.000,0,NVIDIA L4,100\n"
        f"{OTHER_INSTANCE},2026/01/01 12:00:00.000,0,NVIDIA L4,50\n"
    )
    # The explicit column wins over resource_map.
    result = read_gpu_file(write(tmp_path / "all.csv", text), resource_map={"all.csv": "i-99999999"})
    assert rows(result, "resource_id", "value") == [(INSTANCE, 1.0), (OTHER_INSTANCE, 0.5)]


def test_nvidia_smi_repeated_header_from_appended_log(tmp_path):
    text = (
        "timestamp, index, utilization.gpu [%]\n"
        "2026/01/01 12:00:00.000, 0, 10 %\n"
        "timestamp, index, utilization.gpu [%]\n"
        "2026/01/01 12:00:01.000, 0, 20 %\n"
        "garbage line\n"
    )
    result = read_gpu_file(write(tmp_path / "gpu.csv", text), resource_map={"gpu.csv": INSTANCE})
    assert rows(result, "value") == [(0.1,), (0.2,)]
    assert result.skipped_lines == {str(tmp_path / "gpu.csv"): 1}


def test_nvidia_smi_local_time_in_europe_berlin_lands_at_the_right_utc_instant(tmp_path):
    text = (
        "timestamp, index, utilization.gpu [%]\n"
        "2026/01/15 12:00:00.250, 0, 10 %\n"  # CET, UTC+1
        "2026/07/15 12:00:00.000, 0, 20 %\n"  # CEST, UTC+2
    )
    path = write(tmp_path / "gpu.csv", text)
    result = read_gpu_file(path, resource_map={"gpu.csv": INSTANCE}, timezone="Europe/Berlin")
    assert rows(result, "ts", "value") == [
        (datetime(2026, 1, 15, 11, 0, 0, 250000), 0.1),
        (datetime(2026, 7, 15, 10, 0, 0), 0.2),
    ]
    utc = read_gpu_file(path, resource_map={"gpu.csv": INSTANCE})
    assert utc.samples["ts"][0] == datetime(2026, 1, 15, 12, 0, 0, 250000)


def test_nvidia_smi_repeated_local_hour_when_clocks_go_back(tmp_path):
    # 2025-10-26 in Berlin: 02:00-03:00 happens twice (CEST then CET).
    text = "timestamp, index, utilization.gpu [%]\n" + "".join(
        f"2025/10/26 {t}, 0, 50 %\n" for t in ("02:30:00.000", "02:59:00.000", "02:00:00.000", "02:01:00.000")
    )
    path = write(tmp_path / "gpu.csv", text)
    result = read_gpu_file(path, resource_map={"gpu.csv": INSTANCE}, timezone="Europe/Berlin")
    assert result.samples["ts"].to_list() == [
        datetime(2025, 10, 26, 0, 30),
        datetime(2025, 10, 26, 0, 59),
        datetime(2025, 10, 26, 1, 0),
        datetime(2025, 10, 26, 1, 1),
    ]


def test_unknown_timezone_is_an_input_error(tmp_path):
    with pytest.raises(InputError, match="unknown IANA time zone"):
        read_gpu_samples(tmp_path, timezone="Mars/Olympus")


def test_two_gpu_models_mixed_without_ids_are_rejected(tmp_path):
    text = (
        "timestamp, name, utilization.gpu [%]\n"
        "2026/01/01 12:00:00.000, NVIDIA A10G, 10 %\n"
        "2026/01/01 12:00:00.000, Tesla T4, 90 %\n"
    )
    path = write(tmp_path / "gpu.csv", text)
    result = read_gpu_samples(path, resource_map={"gpu.csv": INSTANCE})
    assert result.samples.is_empty()
    assert (
        "NVIDIA A10G and Tesla T4 are mixed without a GPU index or UUID" in result.rejected_files[str(path)]
    )


def test_several_gpus_of_one_model_without_ids_are_rejected(tmp_path):
    text = (
        "timestamp, name, utilization.gpu [%]\n"
        "2026/01/01 12:00:00.000, NVIDIA A10G, 10 %\n"
        "2026/01/01 12:00:00.000, NVIDIA A10G, 90 %\n"
    )
    with pytest.raises(InputError, match="several GPUs report at the same time"):
        read_gpu_file(write(tmp_path / "gpu.csv", text), resource_map={"gpu.csv": INSTANCE})


def test_all_values_unavailable_is_rejected_not_read_as_zero(tmp_path):
    text = "timestamp, index, utilization.gpu [%]\n2026/01/01 12:00:00.000, 0, [N/A]\n"
    with pytest.raises(InputError, match="all 1 sample lines were unreadable"):
        read_gpu_file(write(tmp_path / "gpu.csv", text), resource_map={"gpu.csv": INSTANCE})


# --- CloudWatch agent and SageMaker --------------------------------------------------------------------


def test_cloudwatch_json_dimensions_from_label(tmp_path):
    payload = {
        "MetricDataResults": [
            {
                "Id": "m0",
                "Label": f"nvidia_smi_utilization_gpu InstanceId={INSTANCE} index=0 name=NVIDIA A10G",
                "Timestamps": ["2026-01-01T12:01:00+00:00", "2026-01-01T12:00:00+00:00"],
                "Values": [80.0, 40.0],
                "StatusCode": "Complete",
            },
            {"Id": "mem", "Label": "nvidia_smi_memory_used", "Timestamps": [], "Values": []},
        ],
        "Messages": [],
    }
    result = read_gpu_file(write(tmp_path / "cw.json", json.dumps(payload)))
    # A datapoint stamped at its period's start stands for [start, start + 60 s): ts is the period's end.
    assert rows(result, "ts", "resource_id", "gpu_index", "gpu_model", "value", "interval_seconds") == [
        (datetime(2026, 1, 1, 12, 1), INSTANCE, 0, "NVIDIA A10G", 0.4, 60.0),
        (datetime(2026, 1, 1, 12, 2), INSTANCE, 0, "NVIDIA A10G", 0.8, 60.0),
    ]
    assert set(result.samples["source_format"]) == {"cloudwatch_json"}


def test_cloudwatch_json_dimensions_and_period_from_request_sidecar(tmp_path):
    request = {
        "MetricDataQueries": [
            {
                "Id": "g1",
                "MetricStat": {
                    "Metric": {
                        "Namespace": "CWAgent",
                        "MetricName": "nvidia_smi_utilization_gpu",
                        "Dimensions": [
                            {"Name": "InstanceId", "Value": INSTANCE},
                            {"Name": "index", "Value": "1"},
                            {"Name": "host", "Value": "ip-10-0-0-1"},
                        ],
                    },
                    "Period": 300,
                    "Stat": "Average",
                },
            }
        ]
    }
    answer = {"MetricDataResults": [{"Id": "g1", "Label": "g1", "Timestamps": [1767268800], "Values": [25]}]}
    write(tmp_path / "cw.request.json", json.dumps(request))
    path = write(tmp_path / "cw.json", json.dumps(answer))
    result = read_gpu_samples(tmp_path)
    assert result.files_read == [str(path)]
    assert rows(result, "ts", "resource_id", "host", "gpu_index", "value", "interval_seconds") == [
        (datetime(2026, 1, 1, 12, 5), INSTANCE, "ip-10-0-0-1", 1, 0.25, 300.0)
    ]


def test_sagemaker_json_gpu_utilization_divided_by_gpu_count(tmp_path):
    payload = {
        "MetricDataResults": [
            {
                "Id": "gpuutilization",
                "Label": "GPUUtilization EndpointName=llm-prod VariantName=AllTraffic",
                "Timestamps": ["2026-01-01T12:00:00Z", "2026-01-01T12:01:00Z"],
                "Values": [200.0, 400.0],
            },
            {
                "Id": "n1",
                "Label": "GPUUtilizationNormalized EndpointName=llm-ic",
                "Timestamps": ["2026-01-01T12:00:00Z"],
                "Values": [30.0],
            },
        ]
    }
    path = write(tmp_path / "sm.json", json.dumps(payload))
    result = read_gpu_file(path, gpu_counts={"llm-prod": 4})
    assert rows(result, "ts", "resource_id", "host", "value", "source_format") == [
        (datetime(2026, 1, 1, 12, 1), "llm-ic", None, 0.3, "sagemaker_json"),
        (datetime(2026, 1, 1, 12, 1), "llm-prod", "AllTraffic", 0.5, "sagemaker_json"),
        (datetime(2026, 1, 1, 12, 2), "llm-prod", "AllTraffic", 1.0, "sagemaker_json"),
    ]
    with pytest.raises(InputError, match="GPU count of llm-prod is unknown"):
        read_gpu_file(path)
    # Counts keyed as a bill names endpoints (lower-cased name, or the ARN) serve too.
    by_name = read_gpu_file(path, gpu_counts={"LLM-PROD": 8})
    assert by_name.samples.filter(pl.col("resource_id") == "llm-prod")["value"].to_list() == [0.25, 0.5]
    arn = "arn:aws:sagemaker:us-east-1:123456789012:endpoint/llm-prod"
    payload["MetricDataResults"][0]["Label"] = f"GPUUtilization EndpointName={arn}"
    arn_path = write(tmp_path / "arn.json", json.dumps(payload))
    by_arn = read_gpu_file(arn_path, gpu_counts={"llm-prod": 4})
    assert by_arn.samples.filter(pl.col("resource_id") == arn)["value"].to_list() == [0.5, 1.0]
    # A count too small shows as readings above 100 %: skipped and counted, never clipped into place.
    too_few = read_gpu_file(arn_path, gpu_counts={"llm-prod": 2})
    assert too_few.samples.filter(pl.col("resource_id") == arn)["value"].to_list() == [1.0]
    assert too_few.skipped_lines == {str(arn_path): 1}


def test_cloudwatch_json_dimensions_from_id(tmp_path):
    payload = {
        "MetricDataResults": [
            {
                "Id": "util_i_0123456789abcdef0_gpu3",
                "Label": "nvidia_smi_utilization_gpu",
                "Timestamps": ["2026-01-01T12:00:00Z"],
                "Values": [12.5],
            }
        ]
    }
    result = read_gpu_file(write(tmp_path / "cw.json", json.dumps(payload)))
    assert rows(result, "resource_id", "gpu_index", "value") == [(INSTANCE, 3, 0.125)]


def test_cloudwatch_json_without_a_gpu_metric_is_rejected(tmp_path):
    payload = {"MetricDataResults": [{"Id": "m1", "Label": "CPUUtilization", "Timestamps": [], "Values": []}]}
    with pytest.raises(InputError, match="no GPU utilization metric found"):
        read_gpu_file(write(tmp_path / "cw.json", json.dumps(payload)))


def test_cloudwatch_csv_per_gpu(tmp_path):
    text = (
        "timestamp, InstanceId, index, value\n"
        f"2026-01-01T12:00:00Z, {INSTANCE}, 0, 10\n"
        f"2026-01-01T12:01:00Z, {INSTANCE}, 0, 20\n"
        f"2026-01-01T12:00:00Z, {INSTANCE}, 1, 30\n"
        f"2026-01-01T12:01:00Z, {INSTANCE}, 1, [N/A]\n"
    )
    path = write(tmp_path / "cw.csv", text)
    result = read_gpu_file(path)
    assert result.skipped_lines == {str(path): 1}
    assert rows(result, "ts", "gpu_index", "value", "interval_seconds", "source_format") == [
        (datetime(2026, 1, 1, 12, 1), 0, 0.1, 60.0, "cloudwatch_csv"),
        (datetime(2026, 1, 1, 12, 2), 0, 0.2, 60.0, "cloudwatch_csv"),
        (datetime(2026, 1, 1, 12, 1), 1, 0.3, 60.0, "cloudwatch_csv"),
    ]


def test_sagemaker_csv_with_gpu_count_column_and_metric_named_columns(tmp_path):
    summed = (
        "Timestamp,EndpointName,gpu_count,period,Average\n"
        "2026-01-01 12:00:00,llm-prod,8,300,400\n"
        "2026-01-01 12:05:00,llm-prod,8,300,800\n"
    )
    normalized = "timestamp,EndpointName,GPUUtilizationNormalized\n2026-01-01T12:00:00Z,llm-ic,75\n"
    write(tmp_path / "summed.csv", summed)
    write(tmp_path / "normalized.csv", normalized)
    result = read_gpu_samples(tmp_path)
    assert result.rejected_files == {}
    assert rows(result, "ts", "resource_id", "value", "interval_seconds", "source_format") == [
        (datetime(2026, 1, 1, 12, 1), "llm-ic", 0.75, 60.0, "sagemaker_csv"),
        (datetime(2026, 1, 1, 12, 5), "llm-prod", 0.5, 300.0, "sagemaker_csv"),
        (datetime(2026, 1, 1, 12, 10), "llm-prod", 1.0, 300.0, "sagemaker_csv"),
    ]


def test_sagemaker_csv_without_gpu_count_is_rejected(tmp_path):
    path = write(tmp_path / "sm.csv", "timestamp,EndpointName,value\n2026-01-01T12:00:00Z,llm-prod,100\n")
    result = read_gpu_samples(tmp_path)
    assert "GPU count of llm-prod is unknown" in result.rejected_files[str(path)]
    assert read_gpu_samples(tmp_path, gpu_counts={"llm-prod": 2}).samples["value"].to_list() == [0.5]


# --- Rejections, resource mapping, intervals, duplicates ---------------------------------------------


def test_file_of_nul_bytes_is_rejected_with_a_clear_message(tmp_path):
    good = write(tmp_path / INSTANCE / "gpu.csv", NVSMI_HEADER)
    bad = tmp_path / INSTANCE / "corrupt.csv"
    bad.write_bytes(b"\x00" * 64)
    result = read_gpu_samples(tmp_path)
    assert result.files_read == [str(good)]
    assert result.rejected_files == {
        str(bad): f"{bad}: contains NUL bytes (first at byte 0): a binary or corrupt file, not a text log"
    }
    with pytest.raises(InputError, match="NUL bytes"):
        read_gpu_file(bad)


def test_unknown_format_and_unmappable_file_are_rejected(tmp_path):
    unknown = write(tmp_path / "notes.txt", "hello world\n")
    unmapped = write(tmp_path / "gpu.csv", NVSMI_HEADER)
    result = read_gpu_samples(tmp_path)
    assert "unknown format" in result.rejected_files[str(unknown)]
    assert (
        "cannot map its samples (no host in the file) to a resource" in result.rejected_files[str(unmapped)]
    )
    assert result.samples.is_empty()
    assert dict(result.samples.schema) == SAMPLES_SCHEMA


def test_hosts_csv_in_source_folder_and_explicit_mapping_file(tmp_path):
    write(tmp_path / "hosts.csv", f"host,resource_id\nnode-1,{INSTANCE}\n")
    write(tmp_path / ".hidden" / "junk.prom", "not read\n")
    write(tmp_path / "dcgm" / "scrapes.prom", DCGM_TIMESTAMPED)
    result = read_gpu_samples(tmp_path)
    assert result.rejected_files == {}
    assert result.files_read == [str(tmp_path / "dcgm" / "scrapes.prom")]
    assert set(result.samples["resource_id"]) == {INSTANCE}

    mapping = write(
        tmp_path.parent / f"{tmp_path.name}-map.csv", f"host,resource_id\nnode-1,{OTHER_INSTANCE}\n"
    )
    result = read_gpu_samples(tmp_path, mapping_file=mapping)
    assert set(result.samples["resource_id"]) == {OTHER_INSTANCE}  # the argument before hosts.csv
    result = read_gpu_samples(tmp_path, mapping_file=mapping, resource_map={"node-1": "i-11111111"})
    assert set(result.samples["resource_id"]) == {"i-11111111"}  # resource_map before mapping files


def test_broken_mapping_file_is_an_input_error(tmp_path):
    write(tmp_path / "hosts.csv", "name,instance\nnode-1,i-1\n")
    with pytest.raises(InputError, match="needs columns host"):
        read_gpu_samples(tmp_path)


def test_interval_is_capped_across_a_gap(tmp_path):
    seconds = [0, 10, 20, 60, 70, 80]  # the 40 s hole between 20 and 60 stays unobserved
    text = "timestamp, index, utilization.gpu [%]\n" + "".join(
        f"2026/01/01 12:{s // 60:02d}:{s % 60:02d}.000, 0, 50 %\n" for s in seconds
    )
    result = read_gpu_file(write(tmp_path / "gpu.csv", text), resource_map={"gpu.csv": INSTANCE})
    assert result.samples["interval_seconds"].to_list() == [10.0] * 6
    active = (result.samples["value"] * result.samples["interval_seconds"]).sum()
    assert active == pytest.approx(30.0, abs=1e-6)


def test_duplicate_samples_across_two_overlapping_files_are_kept_once(tmp_path):
    lines = [f"2026/01/01 12:00:{s:02d}.000, 0, GPU-a, {s} %\n" for s in range(0, 50, 10)]
    header = "timestamp, index, uuid, utilization.gpu [%]\n"
    write(tmp_path / INSTANCE / "part1.csv", header + "".join(lines[:3]))
    write(tmp_path / INSTANCE / "part2.csv", header + "".join(lines[1:]))  # overlaps 12:00:10 and 12:00:20
    result = read_gpu_samples(tmp_path)
    assert result.duplicate_samples == 2
    assert rows(result, "ts", "value", "interval_seconds") == [
        (datetime(2026, 1, 1, 12, 0, s), s / 100, 10.0) for s in range(0, 50, 10)
    ]
    assert result.samples["source_file"].to_list()[:3] == [str(tmp_path / INSTANCE / "part1.csv")] * 3


def test_gzip_log_is_read(tmp_path):
    path = tmp_path / INSTANCE / "gpu.csv.gz"
    path.parent.mkdir()
    path.write_bytes(gzip.compress(NVSMI_HEADER.encode()))
    result = read_gpu_samples(tmp_path)
    assert result.samples.height == 4
    assert result.samples["value"].sum() == pytest.approx(0.95 + 0.96 + 0.05 + 0.07, abs=1e-9)


def test_missing_source_is_an_input_error(tmp_path):
    with pytest.raises(InputError, match="does not exist"):
        read_gpu_samples(tmp_path / "nope")


# --- The real nvidia-smi log ---------------------------------------------------------------------------


def _real_log() -> Path:
    path = REALDATA / "nvidia-smi" / "gpu_log.csv"
    if not path.is_file():
        pytest.skip(f"real sample data not present at {path} (a user's clone has no ../shared)")
    return path


def _independent_mean(path: Path) -> tuple[int, float]:
    with path.open(newline="") as handle:
        reader = csv.reader(handle, skipinitialspace=True)
        header = next(reader)
        at = header.index("utilization.gpu [%]")
        values = [float(row[at].replace("%", "").strip()) / 100 for row in reader if row]
    return len(values), sum(values) / len(values)


def test_real_nvidia_smi_log_via_resource_map(tmp_path):
    real = _real_log()
    copy = tmp_path / "gpu_log.csv"
    shutil.copy(real, copy)
    result = read_gpu_samples(tmp_path, resource_map={"gpu_log.csv": INSTANCE})
    count, mean = _independent_mean(real)
    assert count == 107
    assert result.rejected_files == {}
    assert result.skipped_lines == {str(copy): 0}
    samples = result.samples
    assert samples.height == 107
    assert samples.select("resource_id", "gpu_index", "gpu_model").unique().rows() == [
        (INSTANCE, 0, "Tesla V100S-PCIE-32GB")
    ]
    assert samples["value"].mean() == pytest.approx(mean, abs=1e-6)
    assert samples["ts"][0] == datetime(2025, 6, 13, 0, 27, 52, 195000)
    assert samples["interval_seconds"].max() <= 1.001


def test_real_nvidia_smi_log_via_path_convention(tmp_path):
    real = _real_log()
    copy = tmp_path / "logs" / OTHER_INSTANCE / "gpu_log.csv"
    copy.parent.mkdir(parents=True)
    shutil.copy(real, copy)
    result = read_gpu_samples(tmp_path / "logs")
    assert result.samples.height == 107
    assert set(result.samples["resource_id"]) == {OTHER_INSTANCE}
    assert result.samples["value"].mean() == pytest.approx(_independent_mean(real)[1], abs=1e-6)


def test_samples_frame_is_sorted(tmp_path):
    write(tmp_path / "dcgm" / "scrapes.prom", DCGM_TIMESTAMPED)
    write(tmp_path / INSTANCE / "gpu.csv", NVSMI_HEADER)
    samples = read_gpu_samples(tmp_path, resource_map={"node-1": OTHER_INSTANCE}).samples
    assert samples.height == 12
    assert samples.equals(samples.sort(["resource_id", "gpu_index", "metric", "ts"], maintain_order=True))
    assert pl.Series(samples["resource_id"]).unique().sort().to_list() == [INSTANCE, OTHER_INSTANCE]


# --- Robustness: any input is read or rejected with an InputError, never a bare traceback -------------

_PREFIXES = [
    "",
    "timestamp, index, uuid, name, utilization.gpu [%]\n",
    "2026/01/01 12:00:00.000, 0, Tesla T4, 10 %\n",
    "timestamp,__name__,gpu,Hostname,value\n",
    "timestamp,InstanceId,index,value\n",
    "timestamp,EndpointName,value\n",
    '{"MetricDataResults": [{"Id": "m1", "Label": "GPUUtilization EndpointName=e", ',
    '{"status": "success", "data": {"result": [',
    'DCGM_FI_DEV_GPU_UTIL{gpu="0",Hostname="h"} ',
]


@settings(max_examples=150, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    prefix=st.sampled_from(_PREFIXES),
    body=st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=200),
)
def test_any_input_is_read_or_rejected_with_an_input_error(prefix, body):
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / INSTANCE / "log.txt"
        write(path, prefix + body)
        result = read_gpu_samples(path, resource_map={"h": INSTANCE})
        assert dict(result.samples.schema) == SAMPLES_SCHEMA
        assert set(result.files_read) | set(result.rejected_files) == {str(path)}
        if result.samples.height:
            assert result.samples["value"].is_between(0.0, 1.0).all()
            assert (result.samples["interval_seconds"] > 0).all()


def test_half_missing_samples_keep_the_true_interval(tmp_path):
    """With samples lost, the typical gap is still 10 s: the first sample must not claim the median 20 s."""
    seconds = [10, 20, 30, 40, 60, 90, 110, 140, 150]  # gaps: 10 s most common, median 15 s
    text = "timestamp, index, utilization.gpu [%]\n" + "".join(
        f"2026/01/01 12:{s // 60:02d}:{s % 60:02d}.000, 0, 50 %\n" for s in seconds
    )
    result = read_gpu_file(write(tmp_path / "gpu.csv", text), resource_map={"gpu.csv": INSTANCE})
    assert result.samples["interval_seconds"].to_list() == [10.0] * 9
