"""GPU logs and prediction counts from `s3://` sources (issue 14), over a real S3 API on HTTP (moto's server).

Each prefix holds files in the shapes the tools write (a DCGM exporter scrape per host folder with a
`hosts.csv` mapping, an nvidia-smi CSV in a folder named by instance, a counts CSV, a JSON-lines request log).
The same tree is read from a local folder and from S3: the numbers must be the same, and every file name the
reader reports must be the object's `s3://` key, not the staging copy.
"""

from __future__ import annotations

from pathlib import Path

import polars as pl
import pytest

from pipelines.config import Settings
from pipelines.errors import InputError
from pipelines.gpu.efficiency import read_source as read_gpu_source
from pipelines.predictions.cost import read_source as read_predictions_source

try:
    from s3server import s3_bucket, s3_endpoint  # noqa: F401  (fixtures)
except ImportError:  # run with the repository root on sys.path
    from tests.s3server import s3_bucket, s3_endpoint  # noqa: F401

T0 = 1793404800000  # 2026-10-31T00:00:00Z in milliseconds, as DCGM's exporter stamps samples


def _dcgm(host: str, samples: dict[int, list[int]]) -> str:
    lines = ["# HELP DCGM_FI_DEV_GPU_UTIL GPU utilization (in %).", "# TYPE DCGM_FI_DEV_GPU_UTIL gauge"]
    for step in range(3):
        for gpu, values in samples.items():
            lines.append(
                f'DCGM_FI_DEV_GPU_UTIL{{gpu="{gpu}",UUID="GPU-0000000{gpu}-aaaa-bbbb-cccc-000000000000",'
                f'device="nvidia{gpu}",modelName="NVIDIA A100-SXM4-40GB",Hostname="{host}"}} '
                f"{values[step]} {T0 + step * 60_000}"
            )
    return "\n".join(lines) + "\n"


# Per resource: samples and the sum of their utilization (as a fraction), by hand from the files below.
# | resource            | from                                   | samples | Σ utilization |
# | i-0aaa1111bbbb2222c | dcgm, host ip-10-9-0-1 via hosts.csv   | 6       | (50+100+0+25+75+100) % = 3.50 |
# | i-0bbb3333cccc4444d | nvidia-smi, instance id in the folder  | 4       | (24+22+11+40) % = 0.97 |
GPU_EXPECTED = {"i-0aaa1111bbbb2222c": (6, 3.5), "i-0bbb3333cccc4444d": (4, 0.97)}
GPU_FILES = {
    "dcgm/hosts.csv": "hostname,instance_id\nip-10-9-0-1,i-0aaa1111bbbb2222c\n",
    "dcgm/ip-10-9-0-1/2026-10-31.prom": _dcgm("ip-10-9-0-1", {0: [50, 100, 0], 1: [25, 75, 100]}),
    "nvidia-smi/i-0bbb3333cccc4444d/gpu.csv": (
        "timestamp, index, uuid, name, utilization.gpu [%], memory.used [MiB]\n"
        "2026/10/31 00:00:10.000, 0, GPU-ae83c312-ccf8-4124-8a69-dc8e07cec5ec, NVIDIA A10G, 24 %, 9506 MiB\n"
        "2026/10/31 00:00:20.000, 0, GPU-ae83c312-ccf8-4124-8a69-dc8e07cec5ec, NVIDIA A10G, 22 %, 9212 MiB\n"
        "2026/10/31 00:00:30.000, 0, GPU-ae83c312-ccf8-4124-8a69-dc8e07cec5ec, NVIDIA A10G, 11 %, 9489 MiB\n"
        "2026/10/31 00:00:40.000, 0, GPU-ae83c312-ccf8-4124-8a69-dc8e07cec5ec, NVIDIA A10G, 40 %, 9489 MiB\n"
    ),
    "notes/readme.csv": "owner,comment\nml-platform,these are our GPU logs\n",
}

# | endpoint      | day        | from                          | predictions |
# | text-embedder | 2026-10-01 | counts: 120 + 130             | 250 |
# | text-embedder | 2026-10-02 | counts: 90                    | 90  |
PREDICTION_FILES = {
    "counts/text-embedder.csv": (
        "timestamp,model,count\n"
        "2026-10-01T00:00:00Z,text-embedder,120\n"
        "2026-10-01T00:05:00Z,text-embedder,130\n"
        "2026-10-02T00:00:00Z,text-embedder,90\n"
    ),
    "request-logs/image-tagger/2026-10-02.jsonl": (
        '{"timestamp": "2026-10-02T00:03:57.665Z", "model": "image-tagger", "status": 200, "latency_ms": 20}\n'
        '{"timestamp": "2026-10-02T00:07:15.894Z", "model": "image-tagger", "status": 200, "latency_ms": 54}\n'
        '{"timestamp": "2026-10-02T00:09:01.002Z", "model": "image-tagger", "status": 200, "latency_ms": 31}\n'
    ),
}


def write_tree(root: Path, files: dict[str, str]) -> Path:
    for name, text in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text)
    return root


def upload(client, bucket: str, prefix: str, files: dict[str, str]) -> None:
    for name, text in files.items():
        client.put_object(Bucket=bucket, Key=f"{prefix}/{name}", Body=text.encode())


def settings_for(tmp_path: Path, endpoint: str, **sources: str) -> Settings:
    return Settings(home=tmp_path / "home", s3_endpoint_url=endpoint, **sources)


def per_resource(samples: pl.DataFrame) -> dict[str, tuple[int, float]]:
    grouped = samples.group_by("resource_id").agg(pl.len(), pl.col("value").sum()).sort("resource_id")
    return {r: (n, round(v, 9)) for r, n, v in grouped.iter_rows()}


def test_a_gpu_log_prefix_gives_the_numbers_of_the_same_folder_read_locally(s3_bucket, s3_endpoint, tmp_path):
    client, bucket = s3_bucket
    local = write_tree(tmp_path / "local" / "gpu-logs", GPU_FILES)
    upload(client, bucket, "fleet/gpu-logs", GPU_FILES)
    client.put_object(
        Bucket=bucket, Key="fleet/gpu-logs-old/ignored.csv", Body=b"not under the prefix folder"
    )
    uri = f"s3://{bucket}/fleet/gpu-logs"

    from_s3 = read_gpu_source(settings_for(tmp_path, s3_endpoint, gpu_source=uri))
    from_disk = read_gpu_source(settings_for(tmp_path, s3_endpoint, gpu_source=str(local)))

    assert per_resource(from_s3.samples) == GPU_EXPECTED
    renamed = from_disk.samples.with_columns(pl.col("source_file").str.replace(str(local), uri, literal=True))
    assert from_s3.samples.equals(renamed)
    assert sorted(set(from_s3.samples["source_file"])) == [
        f"{uri}/dcgm/ip-10-9-0-1/2026-10-31.prom",
        f"{uri}/nvidia-smi/i-0bbb3333cccc4444d/gpu.csv",
    ]
    # The file no reader knows is rejected under its S3 name, as the local one is under its path.
    assert list(from_s3.rejected_files) == [f"{uri}/notes/readme.csv"]
    assert list(from_s3.rejected_files.values())[0].startswith(f"{uri}/notes/readme.csv")
    assert [r.replace(str(local), uri) for r in from_disk.rejected_files.values()] == list(
        from_s3.rejected_files.values()
    )
    assert all(name.startswith(uri + "/") for name in from_s3.files_read)


def test_an_object_deleted_from_the_prefix_is_not_read_again(s3_bucket, s3_endpoint, tmp_path):
    client, bucket = s3_bucket
    upload(client, bucket, "gpu", GPU_FILES)
    settings = settings_for(tmp_path, s3_endpoint, gpu_source=f"s3://{bucket}/gpu")
    assert per_resource(read_gpu_source(settings).samples) == GPU_EXPECTED
    client.delete_object(Bucket=bucket, Key="gpu/nvidia-smi/i-0bbb3333cccc4444d/gpu.csv")
    assert per_resource(read_gpu_source(settings).samples) == {"i-0aaa1111bbbb2222c": (6, 3.5)}


def test_a_single_log_object_is_read_as_a_file(s3_bucket, s3_endpoint, tmp_path):
    client, bucket = s3_bucket
    upload(client, bucket, "gpu", GPU_FILES)
    key = "gpu/nvidia-smi/i-0bbb3333cccc4444d/gpu.csv"
    result = read_gpu_source(settings_for(tmp_path, s3_endpoint, gpu_source=f"s3://{bucket}/{key}"))
    assert per_resource(result.samples) == {"i-0bbb3333cccc4444d": (4, 0.97)}
    assert set(result.samples["source_file"]) == {f"s3://{bucket}/{key}"}


def test_a_broken_mapping_file_is_named_by_its_key(s3_bucket, s3_endpoint, tmp_path):
    client, bucket = s3_bucket
    files = {**GPU_FILES, "dcgm/hosts.csv": "hostname,instance_id\nip-10-9-0-1\n"}
    upload(client, bucket, "gpu", files)
    with pytest.raises(InputError) as refused:
        read_gpu_source(settings_for(tmp_path, s3_endpoint, gpu_source=f"s3://{bucket}/gpu"))
    assert str(refused.value).startswith(f"s3://{bucket}/gpu/dcgm/hosts.csv"), str(refused.value)
    assert str(tmp_path) not in str(refused.value)


def test_a_prediction_prefix_gives_the_numbers_of_the_same_folder_read_locally(
    s3_bucket, s3_endpoint, tmp_path
):
    client, bucket = s3_bucket
    local = write_tree(tmp_path / "local" / "predictions", PREDICTION_FILES)
    upload(client, bucket, "serving/predictions", PREDICTION_FILES)
    uri = f"s3://{bucket}/serving/predictions"

    from_s3 = read_predictions_source(settings_for(tmp_path, s3_endpoint, predictions_source=uri))
    from_disk = read_predictions_source(settings_for(tmp_path, s3_endpoint, predictions_source=str(local)))

    daily = {
        (e, str(d)): p
        for e, d, p in from_s3.daily.select("endpoint", "usage_date", "predictions").iter_rows()
    }
    assert daily["text-embedder", "2026-10-01"] == 250
    assert daily["text-embedder", "2026-10-02"] == 90
    assert daily["image-tagger", "2026-10-02"] == 3  # three lines with status 200
    assert from_s3.daily.equals(from_disk.daily)
    assert sorted(from_s3.files_read) == [
        f"{uri}/counts/text-embedder.csv",
        f"{uri}/request-logs/image-tagger/2026-10-02.jsonl",
    ]


@pytest.mark.parametrize(
    "source, problem",
    [
        ("s3://no-such-bucket-4f1c/gpu", "the bucket does not exist"),
        ("s3://{bucket}/no/such/prefix", "no object under this prefix"),
    ],
)
def test_a_missing_bucket_or_prefix_is_one_line(s3_bucket, s3_endpoint, tmp_path, source, problem):
    _, bucket = s3_bucket
    uri = source.format(bucket=bucket)
    for read, field in ((read_gpu_source, "gpu_source"), (read_predictions_source, "predictions_source")):
        with pytest.raises(InputError) as refused:
            read(settings_for(tmp_path, s3_endpoint, **{field: uri}))
        message = str(refused.value)
        assert message.startswith(uri) and problem in message and "\n" not in message, message


def test_the_readers_log_lines_name_the_object_not_the_staging_copy(s3_bucket, s3_endpoint, tmp_path, caplog):
    client, bucket = s3_bucket
    upload(client, bucket, "gpu", GPU_FILES)
    with caplog.at_level("WARNING", logger="pipelines.gpu"):
        read_gpu_source(settings_for(tmp_path, s3_endpoint, gpu_source=f"s3://{bucket}/gpu"))
    rejected = [r.getMessage() for r in caplog.records if "GPU log rejected" in r.getMessage()]
    # (The reason's wording belongs to the GPU readers; what matters here is the name.)
    assert len(rejected) == 1 and rejected[0].startswith(
        f"GPU log rejected: s3://{bucket}/gpu/notes/readme.csv"
    )
    assert not any(str(tmp_path) in r.getMessage() for r in caplog.records)
