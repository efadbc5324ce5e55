"""Billing deliveries from S3 over a real S3 API on HTTP (moto's server): listing, staging, verification."""

from __future__ import annotations

import hashlib
import io
import json
from datetime import date
from pathlib import Path

import pytest
from botocore.response import StreamingBody

from pipelines.billing import s3 as s3io
from pipelines.billing.deliveries import discover_deliveries, scan_manifests
from pipelines.errors import InputError

try:
    from s3server import s3_bucket, s3_endpoint  # noqa: F401  (fixtures)
except ImportError:  # run with the repository root on sys.path
    from tests.s3server import s3_bucket, s3_endpoint  # noqa: F401

PREFIX = "billing"
CUR2_MANIFEST = f"{PREFIX}/ml-cur2/metadata/BILLING_PERIOD=2024-05/ml-cur2-Manifest.json"
LEGACY_MANIFEST = f"{PREFIX}/legacy/20240401-20240501/legacy-Manifest.json"


def put(client, bucket: str, key: str, body: bytes | str) -> None:
    client.put_object(Bucket=bucket, Key=key, Body=body.encode() if isinstance(body, str) else body)


def put_cur2(client, bucket: str, execution_id: str, stamp: str, parts: dict[str, bytes]) -> list[str]:
    """Upload one create-new refresh of the ml-cur2 export for 2024-05 and point the manifest at it."""
    keys = []
    for name, body in parts.items():
        key = f"{PREFIX}/ml-cur2/data/BILLING_PERIOD=2024-05/{stamp}-{execution_id}/{name}"
        put(client, bucket, key, body)
        keys.append(key)
    doc = {
        "executionId": execution_id,
        "billingPeriod": {"start": "2024-05-01T00:00:00.000Z"},
        "dataFiles": [f"s3://{bucket}/{k}" for k in keys],
    }
    put(client, bucket, CUR2_MANIFEST, json.dumps(doc))
    return keys


def put_legacy(client, bucket: str) -> list[str]:
    """A legacy report with a stale and a current assembly for 2024-04."""
    base = f"{PREFIX}/legacy/20240401-20240501"
    put(client, bucket, f"{base}/asm-old/legacy-1.csv.gz", b"stale legacy")
    key = f"{base}/asm-new/legacy-1.csv.gz"
    put(client, bucket, key, b"current legacy")
    doc = {"assemblyId": "asm-new", "billingPeriod": {"start": "20240401T000000.000Z"}, "reportKeys": [key]}
    put(client, bucket, LEGACY_MANIFEST, json.dumps(doc))
    put(client, bucket, f"{base}/asm-new/legacy-Manifest.json", json.dumps(doc))  # AWS's copy in the assembly
    return [key]


@pytest.fixture
def gets(monkeypatch) -> list[str]:
    """The keys of every GetObject the code under test sends, in order."""
    seen: list[str] = []
    real = s3io.make_client

    def counting_client(endpoint_url=None):
        client = real(endpoint_url)
        client.meta.events.register(
            "before-parameter-build.s3.GetObject", lambda params, **_: seen.append(params["Key"])
        )
        return client

    monkeypatch.setattr(s3io, "make_client", counting_client)
    return seen


@pytest.fixture
def uploaded(s3_bucket):
    client, bucket = s3_bucket
    put_cur2(client, bucket, "e1", "20240501T000000Z", {"part-00001.snappy.parquet": b"stale cur2"})
    cur2_keys = put_cur2(
        client,
        bucket,
        "e2",
        "20240502T000000Z",
        {"part-00001.snappy.parquet": b"p1", "part-00002.snappy.parquet": b"p2"},
    )
    legacy_keys = put_legacy(client, bucket)
    put(client, bucket, "elsewhere/not-in-the-prefix.csv", b"outside")
    return client, bucket, cur2_keys, legacy_keys


def test_discover_stages_current_files_and_skips_known_deliveries(uploaded, s3_endpoint, tmp_path, gets):
    client, bucket, cur2_keys, legacy_keys = uploaded
    staging = tmp_path / "staging"
    source = f"s3://{bucket}/{PREFIX}"
    legacy, cur2 = discover_deliveries(source, staging_dir=staging, endpoint_url=s3_endpoint)

    assert (legacy.billing_period, legacy.delivery_id, legacy.flavour) == (
        date(2024, 4, 1),
        "asm-new",
        "cur1",
    )
    assert (cur2.billing_period, cur2.delivery_id, cur2.flavour) == (date(2024, 5, 1), "e2", "cur2")
    assert cur2.files == tuple(staging / bucket / k for k in cur2_keys)
    assert [p.read_bytes() for p in cur2.files] == [b"p1", b"p2"]
    assert legacy.files == (staging / bucket / legacy_keys[0],)
    assert legacy.files[0].read_bytes() == b"current legacy"
    assert cur2.manifest == staging / bucket / CUR2_MANIFEST
    assert json.loads(cur2.manifest.read_text())["executionId"] == "e2"
    assert cur2.source == f"s3://{bucket}/{CUR2_MANIFEST}"
    assert sorted(gets) == sorted([CUR2_MANIFEST, LEGACY_MANIFEST, *cur2_keys, *legacy_keys])

    # Known fingerprints: only the manifests are read, nothing is downloaded.
    gets.clear()
    known = {legacy.fingerprint, cur2.fingerprint}
    assert (
        discover_deliveries(source, staging_dir=staging, endpoint_url=s3_endpoint, skip_fingerprints=known)
        == []
    )
    assert sorted(gets) == sorted([CUR2_MANIFEST, LEGACY_MANIFEST])

    # Asked again without skipping: the staged copies are reused, not downloaded again.
    gets.clear()
    again = discover_deliveries(source, staging_dir=staging, endpoint_url=s3_endpoint)
    assert [d.fingerprint for d in again] == [legacy.fingerprint, cur2.fingerprint]
    assert [d.files for d in again] == [legacy.files, cur2.files]
    assert sorted(gets) == sorted([CUR2_MANIFEST, LEGACY_MANIFEST])

    # scan_manifests agrees with the deliveries and reads manifests only.
    gets.clear()
    assert scan_manifests(source, endpoint_url=s3_endpoint) == {
        date(2024, 4, 1): legacy.fingerprint,
        date(2024, 5, 1): cur2.fingerprint,
    }
    assert sorted(gets) == sorted([CUR2_MANIFEST, LEGACY_MANIFEST])
    assert not any(p.name == "not-in-the-prefix.csv" for p in staging.rglob("*"))


def test_restated_manifest_changes_the_fingerprint_and_stages_the_new_files(
    uploaded, s3_endpoint, tmp_path, gets
):
    client, bucket, _, _ = uploaded
    staging = tmp_path / "staging"
    source = f"s3://{bucket}/{PREFIX}"
    first = discover_deliveries(source, staging_dir=staging, endpoint_url=s3_endpoint)
    new_keys = put_cur2(client, bucket, "e3", "20240503T000000Z", {"part-00001.snappy.parquet": b"restated"})
    gets.clear()
    [restated] = discover_deliveries(
        source,
        staging_dir=staging,
        endpoint_url=s3_endpoint,
        skip_fingerprints={d.fingerprint for d in first},
    )
    assert restated.delivery_id == "e3" and restated.billing_period == date(2024, 5, 1)
    assert restated.fingerprint not in {d.fingerprint for d in first}
    assert [p.read_bytes() for p in restated.files] == [b"restated"]
    assert sorted(gets) == sorted([CUR2_MANIFEST, LEGACY_MANIFEST, *new_keys])


def test_a_replaced_data_file_is_downloaded_again(s3_bucket, s3_endpoint, tmp_path, gets):
    client, bucket = s3_bucket
    [key] = put_cur2(client, bucket, "e1", "20240501T000000Z", {"part.parquet": b"version one"})
    staging = tmp_path / "staging"
    [before] = discover_deliveries(f"s3://{bucket}/{PREFIX}", staging_dir=staging, endpoint_url=s3_endpoint)
    put(client, bucket, key, b"version two, longer")  # overwritten in place, same manifest
    gets.clear()
    [after] = discover_deliveries(f"s3://{bucket}/{PREFIX}", staging_dir=staging, endpoint_url=s3_endpoint)
    assert after.fingerprint != before.fingerprint
    assert after.files[0].read_bytes() == b"version two, longer"
    assert gets == [CUR2_MANIFEST, key]


def test_a_damaged_staged_copy_is_downloaded_again(s3_bucket, s3_endpoint, tmp_path, gets):
    client, bucket = s3_bucket
    [key] = put_cur2(client, bucket, "e1", "20240501T000000Z", {"part.parquet": b"the real bytes"})
    [d] = discover_deliveries(f"s3://{bucket}/{PREFIX}", staging_dir=tmp_path, endpoint_url=s3_endpoint)
    d.files[0].write_bytes(b"truncated")
    gets.clear()
    [again] = discover_deliveries(f"s3://{bucket}/{PREFIX}", staging_dir=tmp_path, endpoint_url=s3_endpoint)
    assert again.files[0].read_bytes() == b"the real bytes"
    assert gets == [CUR2_MANIFEST, key]


@pytest.mark.parametrize(
    ("entry", "problem"),
    [
        (
            "s3://other-bucket/billing/ml-cur2/data/BILLING_PERIOD=2024-05/part.parquet",
            "in bucket 'other-bucket'",
        ),
        ("s3://{bucket}/billing/ml-cur2/data/../../../secrets/key.csv", "'..'"),
        (
            "s3://{bucket}/private/ml-cur2/data/BILLING_PERIOD=2024-05/part.parquet",
            "outside the configured prefix",
        ),
        ("s3://{bucket}/billing/other-export/data/part.parquet", "outside the export folder"),
        ("/etc/passwd", "absolute path"),
    ],
)
def test_hostile_manifest_is_refused(s3_bucket, s3_endpoint, tmp_path, gets, entry, problem):
    client, bucket = s3_bucket
    if "other-bucket" in entry:
        client.create_bucket(Bucket="other-bucket")
        put(client, "other-bucket", "billing/ml-cur2/data/BILLING_PERIOD=2024-05/part.parquet", b"not ours")
    entry = entry.format(bucket=bucket)
    for key in (
        "billing/ml-cur2/data/BILLING_PERIOD=2024-05/part.parquet",
        "secrets/key.csv",
        "private/ml-cur2/data/BILLING_PERIOD=2024-05/part.parquet",
        "billing/other-export/data/part.parquet",
    ):
        put(client, bucket, key, b"secret")
    put(client, bucket, CUR2_MANIFEST, json.dumps({"executionId": "x", "dataFiles": [entry]}))
    with pytest.raises(InputError) as err:
        discover_deliveries(
            f"s3://{bucket}/{PREFIX}", staging_dir=tmp_path / "staging", endpoint_url=s3_endpoint
        )
    assert err.value.path == f"s3://{bucket}/{CUR2_MANIFEST}"
    assert entry in err.value.problem and problem in err.value.problem and "refused" in err.value.problem
    assert gets == [CUR2_MANIFEST]  # nothing but the manifest was fetched
    assert not (tmp_path / "staging").exists()


def test_missing_data_file_on_s3(s3_bucket, s3_endpoint, tmp_path):
    client, bucket = s3_bucket
    [key] = put_cur2(client, bucket, "e1", "20240501T000000Z", {"part.parquet": b"x"})
    client.delete_object(Bucket=bucket, Key=key)
    with pytest.raises(InputError) as err:
        discover_deliveries(f"s3://{bucket}/{PREFIX}", staging_dir=tmp_path, endpoint_url=s3_endpoint)
    assert err.value.path == f"s3://{bucket}/{CUR2_MANIFEST}"
    assert f"s3://{bucket}/{key}" in err.value.problem and "missing" in err.value.problem


def _tampering_client(monkeypatch, tamper):
    """Make the code under test receive `tamper(original bytes)` as the body of each data file it fetches."""
    real = s3io.make_client

    def client_factory(endpoint_url=None):
        client = real(endpoint_url)

        def after_get(parsed, model, **_):
            if "Body" in parsed and parsed.get("ContentType") != "application/json":
                data = parsed["Body"].read()
                if not data.startswith(b"{"):  # leave manifests alone
                    data = tamper(data)
                parsed["Body"] = StreamingBody(io.BytesIO(data), len(data))

        client.meta.events.register("after-call.s3.GetObject", after_get)
        return client

    monkeypatch.setattr(s3io, "make_client", client_factory)
    monkeypatch.setattr(s3io, "BACKOFF_SECONDS", 0.0)


@pytest.mark.parametrize(
    ("tamper", "problem"),
    [
        (lambda data: data[:-3], "received 21 bytes, expected 24"),
        (lambda data: data[::-1], "does not match the ETag"),
    ],
)
def test_corrupted_download_is_detected(s3_bucket, s3_endpoint, tmp_path, monkeypatch, gets, tamper, problem):
    client, bucket = s3_bucket
    [key] = put_cur2(client, bucket, "e1", "20240501T000000Z", {"part.parquet": b"twenty-four bytes of it."})
    _tampering_client(monkeypatch, tamper)
    staging = tmp_path / "staging"
    with pytest.raises(s3io.DownloadError) as err:
        discover_deliveries(f"s3://{bucket}/{PREFIX}", staging_dir=staging, endpoint_url=s3_endpoint)
    assert err.value.path == f"s3://{bucket}/{key}"
    assert problem in err.value.problem
    assert isinstance(err.value, InputError)
    assert gets.count(key) == s3io.DOWNLOAD_ATTEMPTS  # retried before giving up
    # Nothing half-written is left where the ingestion, or the next run, would take it for the real file.
    assert [p.name for p in (staging / bucket).rglob("*") if p.is_file() and "part" in p.name] == []


def test_object_replaced_between_listing_and_download(s3_bucket, s3_endpoint, tmp_path, monkeypatch):
    client, bucket = s3_bucket
    [key] = put_cur2(client, bucket, "e1", "20240501T000000Z", {"part.parquet": b"listed version"})
    real = s3io.make_client

    def racing_client(endpoint_url=None):
        racing = real(endpoint_url)

        def before_get(params, **_):
            if params["Key"] == key:
                put(client, bucket, key, b"a newer version")

        racing.meta.events.register("before-parameter-build.s3.GetObject", before_get)
        return racing

    monkeypatch.setattr(s3io, "make_client", racing_client)
    with pytest.raises(s3io.TransientS3Error, match="changed on S3 while it was being staged"):
        discover_deliveries(f"s3://{bucket}/{PREFIX}", staging_dir=tmp_path, endpoint_url=s3_endpoint)


def test_multipart_object_is_verified_by_size(s3_bucket, s3_endpoint, tmp_path):
    client, bucket = s3_bucket
    key = "focus/2024-05/focus-00001.parquet"
    part1, part2 = b"a" * (5 * 1024 * 1024), b"tail"
    upload = client.create_multipart_upload(Bucket=bucket, Key=key)
    etags = [
        client.upload_part(Bucket=bucket, Key=key, UploadId=upload["UploadId"], PartNumber=n, Body=body)[
            "ETag"
        ]
        for n, body in ((1, part1), (2, part2))
    ]
    client.complete_multipart_upload(
        Bucket=bucket,
        Key=key,
        UploadId=upload["UploadId"],
        MultipartUpload={"Parts": [{"ETag": e, "PartNumber": n} for n, e in enumerate(etags, 1)]},
    )
    assert client.head_object(Bucket=bucket, Key=key)["ETag"].endswith('-2"')
    [d] = discover_deliveries(f"s3://{bucket}/focus", staging_dir=tmp_path, endpoint_url=s3_endpoint)
    assert d.billing_period is None and d.manifest is None and d.flavour is None
    assert d.files == (tmp_path / bucket / key,)
    assert hashlib.sha256(d.files[0].read_bytes()).hexdigest() == hashlib.sha256(part1 + part2).hexdigest()


def test_plain_objects_single_object_and_glob(s3_bucket, s3_endpoint, tmp_path, gets):
    client, bucket = s3_bucket
    put(client, bucket, "focus/2024-05/a.csv", b"alpha")
    put(client, bucket, "focus/2024-06/b.csv", b"beta")
    put(client, bucket, "focus/notes.txt", b"not data")
    found = discover_deliveries(f"s3://{bucket}/focus/", staging_dir=tmp_path, endpoint_url=s3_endpoint)
    assert [(d.source, d.files[0].read_bytes()) for d in found] == [
        (f"s3://{bucket}/focus/2024-05/a.csv", b"alpha"),
        (f"s3://{bucket}/focus/2024-06/b.csv", b"beta"),
    ]
    [one] = discover_deliveries(
        f"s3://{bucket}/focus/2024-06/b.csv", staging_dir=tmp_path, endpoint_url=s3_endpoint
    )
    assert one.fingerprint == found[1].fingerprint
    globbed = discover_deliveries(
        f"s3://{bucket}/focus/*/*.csv", staging_dir=tmp_path, endpoint_url=s3_endpoint
    )
    assert [d.fingerprint for d in globbed] == [d.fingerprint for d in found]
    assert sorted(gets) == [
        "focus/2024-05/a.csv",
        "focus/2024-06/b.csv",
    ]  # the later runs reused the staged files
    assert scan_manifests(f"s3://{bucket}/focus", endpoint_url=s3_endpoint) == {}


def test_missing_bucket_is_a_clear_error(s3_endpoint, tmp_path):
    with pytest.raises(InputError, match="bucket does not exist") as err:
        discover_deliveries("s3://no-such-bucket-here/cur", staging_dir=tmp_path, endpoint_url=s3_endpoint)
    assert err.value.path.startswith("s3://no-such-bucket-here/")


def test_staged_path_refuses_escaping_keys(tmp_path):
    assert s3io.staged_path(tmp_path, "b", "x/y.csv") == tmp_path / "b" / "x" / "y.csv"
    for key in ("../up.csv", "a/../../up.csv", "/abs.csv", "a//b.csv"):
        with pytest.raises(InputError):
            s3io.staged_path(tmp_path, "b", key)
    for bucket in ("..", ".hidden", "a/b"):
        with pytest.raises(InputError):
            s3io.staged_path(tmp_path, bucket, "k.csv")
    with pytest.raises(InputError, match="not a valid S3 bucket name"):
        discover_deliveries("s3://../x", staging_dir=tmp_path)
    assert list(Path(tmp_path).iterdir()) == []


def test_s3_failures_say_whether_a_later_run_may_succeed():
    from botocore.exceptions import ClientError, NoCredentialsError

    def client_error(code: str) -> ClientError:
        return ClientError({"Error": {"Code": code, "Message": "m"}}, "ListObjectsV2")

    slow = s3io.s3_failure("s3://b/p", client_error("SlowDown"))
    denied = s3io.s3_failure("s3://b/p", client_error("AccessDenied"))
    no_creds = s3io.s3_failure("s3://b/p", NoCredentialsError())
    assert isinstance(slow, s3io.TransientS3Error)
    assert type(denied) is InputError and "access denied" in denied.problem
    assert type(no_creds) is InputError and "no AWS credentials" in no_creds.problem
    assert "testing" not in str(no_creds)  # never echoes a credential
