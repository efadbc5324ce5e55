"""The lake on S3 (`MLCOST_LAKE=s3://bucket/prefix`, issue 19), against moto's S3 server over HTTP.

- `mlcost run` into an S3 lake, then `mlcost sql` from another MLCOST_HOME (an analyst's laptop: no local lake,
  no warehouse) reads the totals of every layer from the bucket, equal to the cent to the local warehouse of
  the same run and to the hand-computed bill.
- The objects are Hive-style (`<table>/<column>=<value>/`) and named by their SHA-256, which their bytes have.
- `mlcost run` of a restatement killed after uploading every new object and before replacing the manifest: the
  manifest is byte for byte the previous one and readers see the previous totals, although the new objects
  (and a junk object that is not Parquet at all) sit in the same partition folders: readers never list a prefix.
  The next run publishes the restatement.
- The manifest is replaced only if nobody replaced it since it was read; unreferenced objects go after a grace.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import subprocess
import sys
import uuid
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import boto3
import duckdb
import pytest

from pipelines.config import Settings, SettingsError
from pipelines.storage import lake, object_lake
from pipelines.storage.generations import PublishRefused
from tests.conftest import REPO
from tests.corpus import bad_inputs as corpus
from tests.test_generations import EXPECTED, month_rows

try:
    from s3server import s3_bucket, s3_endpoint  # noqa: F401  (fixtures)
except ImportError:  # run with the repository root on sys.path
    from tests.s3server import s3_bucket, s3_endpoint  # noqa: F401

PREFIX = "mlcost/lake"
# Per layer: rows and Σ effective_cost (reconciliation: Σ difference), as `mlcost sql` prints them.
TOTALS_SQL = """
SELECT 'line_items' AS layer, count(*) AS n, round(sum(effective_cost), 2) AS total FROM line_items
UNION ALL SELECT 'cost_attribution', count(*), round(sum(effective_cost), 2) FROM cost_attribution
UNION ALL SELECT 'cost_by_category_daily', count(*), round(sum(effective_cost), 2) FROM cost_by_category_daily
UNION ALL SELECT 'reconciliation', count(*), round(sum(abs(difference)), 2) FROM reconciliation
ORDER BY layer
"""


@pytest.fixture(scope="module")
def sources(tmp_path_factory) -> dict[int, Path]:
    root = tmp_path_factory.mktemp("sources")
    return {
        1: corpus.write_csv(root / "v1" / "cur.csv", corpus.CUR1_HEADER, month_rows(1.0)),
        2: corpus.write_csv(root / "v2" / "cur.csv", corpus.CUR1_HEADER, month_rows(1.5)),
    }


def environment(home: Path, lake_uri: str | None, endpoint: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("MLCOST_")}
    env.update(MLCOST_HOME=str(home), DAGSTER_HOME=str(home / "dagster"), MLCOST_S3_ENDPOINT_URL=endpoint)
    env["MLCOST_PARTITION_START"] = "2026-10-01"
    if lake_uri:
        env["MLCOST_LAKE"] = lake_uri
    return env


def mlcost_run(home: Path, source: Path, lake_uri: str, endpoint: str, *failpoint: str):
    (home / "dagster").mkdir(parents=True, exist_ok=True)
    entry = ["-m", "tests.failpoints", *failpoint, "--"] if failpoint else ["-m", "pipelines.cli"]
    command = [sys.executable, *entry, "run", "--cur-source", str(source), "--from", "2026-10"]
    return subprocess.run(
        command,
        capture_output=True,
        text=True,
        env=environment(home, lake_uri, endpoint),
        cwd=REPO,
        timeout=600,
    )


def sql_totals(home: Path, lake_uri: str | None, endpoint: str) -> dict[str, tuple[int, float]]:
    """`mlcost sql --format json` of TOTALS_SQL, in a fresh process: {layer: (rows, total)}."""
    proc = subprocess.run(
        [sys.executable, "-m", "pipelines.cli", "sql", "--format", "json", TOTALS_SQL],
        capture_output=True,
        text=True,
        env=environment(home, lake_uri, endpoint),
        cwd=REPO,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    return {r["layer"]: (r["n"], r["total"]) for r in json.loads(proc.stdout)}


def manifest_bytes(client, bucket: str) -> bytes:
    return client.get_object(Bucket=bucket, Key=f"{PREFIX}/_published.json")["Body"].read()


def keys(client, bucket: str, prefix: str) -> list[str]:
    pages = client.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix)
    return sorted(o["Key"] for page in pages for o in page.get("Contents", []))


def test_mlcost_sql_reads_an_s3_lake_equal_to_the_local_lake_and_survives_a_writer_killed_mid_publish(
    s3_endpoint,
    s3_bucket,
    sources,
    tmp_path,
):
    client, bucket = s3_bucket
    lake_uri = f"s3://{bucket}/{PREFIX}"
    pipeline_home, laptop = tmp_path / "pipeline", tmp_path / "laptop"
    laptop.mkdir()

    # --- version 1 published to S3 --------------------------------------------------------------------------
    proc = mlcost_run(pipeline_home, sources[1], lake_uri, s3_endpoint)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-3000:]
    from_s3 = sql_totals(laptop, lake_uri, s3_endpoint)
    local = sql_totals(pipeline_home, None, s3_endpoint)
    lines, total = EXPECTED[1]  # 63 lines, 127.96 (tests/test_generations.py: by hand)
    assert from_s3["line_items"] == (lines, total)
    assert from_s3["cost_attribution"][1] == total
    assert from_s3["cost_by_category_daily"][1] == total
    assert from_s3["reconciliation"] == (1, 0.0)
    assert from_s3 == local  # every layer's rows and total, to the cent
    assert not (laptop / "lake").exists() and not (laptop / "warehouse.duckdb").exists()

    manifest = json.loads(manifest_bytes(client, bucket))
    october = manifest["periods"]["2026-10-01"]
    assert october["reconciled"] is True
    for table, values in october["objects"].items():
        for value, url in values.items():
            digest = october["files"][table][value]
            folder = f"{lake.PARTITION_COLUMNS[table]}={value}"
            assert url == f"s3://{bucket}/{PREFIX}/{table}/{folder}/{digest}.parquet", url
            body = client.get_object(Bucket=bucket, Key=url.split("/", 3)[3])["Body"].read()
            assert hashlib.sha256(body).hexdigest() == digest
    symlink = f"{PREFIX}/_symlinks/line_items/billing_period=2026-10-01/manifest"
    assert client.get_object(Bucket=bucket, Key=symlink)["Body"].read().decode() == (
        october["objects"]["line_items"]["2026-10-01"] + "\n"
    )

    # --- version 2 killed after its uploads, before the manifest ----------------------------------------------
    before = manifest_bytes(client, bucket)
    objects_before = keys(client, bucket, f"{PREFIX}/line_items/")
    proc = mlcost_run(
        pipeline_home, sources[2], lake_uri, s3_endpoint, "kill-at", "switch lake manifest", "-"
    )
    assert proc.returncode == -9, proc.stdout[-2000:] + proc.stderr[-3000:]
    assert manifest_bytes(client, bucket) == before
    objects_after = keys(client, bucket, f"{PREFIX}/line_items/")
    assert len(objects_after) == len(objects_before) + 1  # the restated month's object is there, unnamed
    # A half-uploaded or foreign object in the same folder: a reader that listed the folder would fail on it.
    junk = f"{PREFIX}/line_items/billing_period=2026-10-01/half-written.parquet"
    client.put_object(Bucket=bucket, Key=junk, Body=b"PAR1 not a parquet file")
    assert sql_totals(laptop, lake_uri, s3_endpoint) == from_s3

    # --- the next run publishes version 2 ---------------------------------------------------------------------
    proc = mlcost_run(pipeline_home, sources[2], lake_uri, s3_endpoint)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-3000:]
    restated = sql_totals(laptop, lake_uri, s3_endpoint)
    assert restated["line_items"] == EXPECTED[2]  # 63 lines, 173.96
    assert restated == sql_totals(pipeline_home, None, s3_endpoint)
    # Version 1's objects stay for sessions that read the previous manifest, until the grace has passed.
    store = object_lake.ObjectLake(
        Settings(home=tmp_path / "gc", lake_uri=lake_uri, s3_endpoint_url=s3_endpoint)
    )
    manifest, _ = store.read_manifest()
    named = set(store.table_objects(manifest)["line_items"])
    assert store.collect_garbage(manifest) == 0
    later = datetime.now(UTC) + object_lake.GARBAGE_GRACE + timedelta(minutes=1)
    assert store.collect_garbage(manifest, now=later) > 0
    left = keys(client, bucket, f"{PREFIX}/line_items/")
    assert {f"s3://{bucket}/{k}" for k in left} == named
    assert sql_totals(laptop, lake_uri, s3_endpoint) == restated


def test_the_manifest_is_replaced_only_if_nobody_replaced_it_since_it_was_read(
    s3_endpoint, s3_bucket, tmp_path
):
    client, bucket = s3_bucket
    settings = Settings(home=tmp_path, lake_uri=f"s3://{bucket}/{PREFIX}", s3_endpoint_url=s3_endpoint)
    store = object_lake.ObjectLake(settings)
    empty, etag = store.read_manifest()
    assert (empty["periods"], etag) == ({}, None)
    store.write_manifest({"version": 1, "periods": {"2026-09-01": {"objects": {}}}}, None)
    # A second publisher that read "no manifest" before the first one wrote it is refused, not merged over it.
    with pytest.raises(PublishRefused, match="replaced by another publisher"):
        store.write_manifest({"version": 1, "periods": {"2026-10-01": {"objects": {}}}}, None)
    mine, etag = store.read_manifest()
    other = object_lake.ObjectLake(settings)
    other.write_manifest({**mine, "periods": {**mine["periods"], "2026-11-01": {"objects": {}}}}, etag)
    with pytest.raises(PublishRefused):
        store.write_manifest({**mine, "periods": {**mine["periods"], "2026-10-01": {"objects": {}}}}, etag)
    assert sorted(store.read_manifest()[0]["periods"]) == ["2026-09-01", "2026-11-01"]


def test_mlcost_lake_accepts_only_an_s3_uri_with_a_bucket(tmp_path):
    assert Settings(home=tmp_path, lake_uri="s3://bills-lake/mlcost/").lake_uri == "s3://bills-lake/mlcost"
    assert Settings.from_env({"MLCOST_HOME": str(tmp_path)}).lake_uri is None
    for bad, why in (
        ("/data/lake", "not an s3:// URI"),
        ("s3://", "names no bucket"),
        ("s3://a b/x", "bucket"),
    ):
        with pytest.raises(SettingsError, match=rf"^MLCOST_LAKE='{bad}' is not accepted \(.*{why}"):
            Settings(home=tmp_path, lake_uri=bad)


def test_the_athena_ddl_in_the_docs_is_the_one_the_code_generates():
    docs = (REPO / "docs" / "architecture.md").read_text()
    ddl = object_lake.athena_ddl("cost_by_category_daily")
    assert "```sql\n" + ddl + "\n```" in docs
    # Every column type of every table has an Athena spelling, and the partition column is not a data column.
    for table in lake.PARTITION_COLUMNS:
        text = object_lake.athena_ddl(table, "s3://bills/lake")
        assert f"PARTITIONED BY (`{lake.PARTITION_COLUMNS[table]}` date)" in text
        assert text.count(f"`{lake.PARTITION_COLUMNS[table]}`") == 1
    assert "'projection.billing_period.interval.unit' = 'MONTHS'" in object_lake.athena_ddl("line_items")


def test_mlcost_sql_on_an_s3_lake_says_what_is_missing_and_reads_nothing_but_the_lake(
    s3_endpoint, s3_bucket, tmp_path, monkeypatch, capsys, caplog
):
    """One line and exit 2 before anything is published or for a bucket that does not exist; once a manifest
    names an object, the session reads it, and neither a local file nor another prefix of the bucket."""
    from pipelines.cli import main

    client, bucket = s3_bucket
    monkeypatch.setenv("MLCOST_HOME", str(tmp_path))
    monkeypatch.setenv("MLCOST_S3_ENDPOINT_URL", s3_endpoint)
    monkeypatch.setenv("MLCOST_LAKE", f"s3://{bucket}/{PREFIX}")
    assert main(["sql", "SELECT 1"]) == 2
    err = capsys.readouterr().err
    assert (
        err
        == f"mlcost: error: s3://{bucket}/{PREFIX}/_published.json: no published generation yet: run `mlcost run` first\n"
    )
    monkeypatch.setenv("MLCOST_LAKE", f"s3://no-such-bucket-{bucket}/x")
    assert main(["sql", "SELECT 1"]) == 2
    assert "the bucket does not exist" in capsys.readouterr().err

    # A one-partition lake written by hand: a reconciliation file, its object and a manifest naming it.
    local = tmp_path / "r.parquet"
    duckdb.execute(
        f"COPY (SELECT DATE '2026-10-01' AS billing_period, 0.001 AS difference) TO '{local}' (FORMAT parquet)"
    )
    settings = Settings(home=tmp_path, lake_uri=f"s3://{bucket}/{PREFIX}", s3_endpoint_url=s3_endpoint)
    store = object_lake.ObjectLake(settings)
    digest = lake.file_sha256(local)
    record = {"generation": "g", "reconciled": True, "files": {"reconciliation": {"2026-10-01": digest}}}
    store.publish({"2026-10-01": record}, {"2026-10-01": {"reconciliation": {"2026-10-01": local}}})
    client.put_object(Bucket=bucket, Key="elsewhere/secret.parquet", Body=local.read_bytes())
    monkeypatch.setenv("MLCOST_LAKE", f"s3://{bucket}/{PREFIX}")
    caplog.clear()
    with caplog.at_level(logging.INFO, logger="werkzeug"):  # moto's server logs each HTTP request it serves
        assert main(["sql", "--format", "csv", "SELECT billing_period, difference FROM reconciliation"]) == 0
    assert capsys.readouterr().out == "billing_period,difference\r\n2026-10-01,0.001\r\n"
    requests = [r.getMessage() for r in caplog.records if r.name == "werkzeug"]
    assert any(
        f"GET /{bucket}/{PREFIX}/reconciliation/billing_period=2026-10-01/{digest}" in r for r in requests
    )
    assert not [r for r in requests if "list-type" in r]  # the reader listed no prefix
    for outside in (f"s3://{bucket}/elsewhere/secret.parquet", str(local)):
        assert main(["sql", f"SELECT * FROM read_parquet('{outside}')"]) == 2
        assert "mlcost sql reads only the published tables" in capsys.readouterr().err
    # Writing into the lake's own prefix is refused by the statement gate.
    target = f"s3://{bucket}/{PREFIX}/reconciliation/x.parquet"
    assert main(["sql", f"COPY (SELECT 1) TO '{target}'"]) == 2
    assert "COPY is refused" in capsys.readouterr().err


def test_a_lake_moved_to_s3_pushes_the_periods_the_bucket_lacks_and_drops_symlinks_of_gone_days(
    s3_endpoint, s3_bucket, tmp_path
):
    """MLCOST_LAKE set on a home whose September was published before: the next publish (October) pushes
    September too. A republished October without its 2nd day loses that day's symlink (Athena would read it)."""
    client, bucket = s3_bucket
    settings = Settings(home=tmp_path, lake_uri=f"s3://{bucket}/{PREFIX}", s3_endpoint_url=s3_endpoint)

    def generation(period: str, name: str, days: dict[str, float]) -> dict:
        files = {}
        for day, cost in days.items():
            path = (
                settings.lake / "_generations" / f"billing_period={period}" / name / "cost_by_category_daily"
            )
            path.mkdir(parents=True, exist_ok=True)
            target = path / f"usage_date={day}.parquet"
            duckdb.execute(
                f"COPY (SELECT DATE '{day}' AS usage_date, {cost} AS effective_cost) TO '{target}'"
            )
            files[day] = lake.file_sha256(target)
        folder = f"_generations/billing_period={period}/{name}"
        return {"generation": name, "folder": folder, "files": {"cost_by_category_daily": files}}

    catalog = {"version": 1, "periods": {"2026-09-01": generation("2026-09-01", "a", {"2026-09-30": 1.25})}}
    catalog["periods"]["2026-10-01"] = generation("2026-10-01", "b", {"2026-10-01": 2.5, "2026-10-02": 4.0})
    assert object_lake.publish_generation(settings, catalog, ["2026-10-01"]) == ["2026-09-01", "2026-10-01"]
    links = f"{PREFIX}/_symlinks/cost_by_category_daily/"
    assert [k.removeprefix(links) for k in keys(client, bucket, links)] == [
        "usage_date=2026-09-30/manifest",
        "usage_date=2026-10-01/manifest",
        "usage_date=2026-10-02/manifest",
    ]
    catalog["periods"]["2026-10-01"] = generation("2026-10-01", "c", {"2026-10-01": 3.0})
    assert object_lake.publish_generation(settings, catalog, ["2026-10-01"]) == ["2026-10-01"]
    assert [k.removeprefix(links) for k in keys(client, bucket, links)] == [
        "usage_date=2026-09-30/manifest",
        "usage_date=2026-10-01/manifest",
    ]
    con = object_lake.connect_reader(settings)
    # September 1.25 + October's new generation 3.00 (not 2.50 + 4.00 of the one it replaced).
    assert con.execute("SELECT sum(effective_cost) FROM cost_by_category_daily").fetchone()[0] == 4.25


def test_an_analyst_reads_the_lake_by_the_endpoint_and_the_bucket_region_boto3_resolves(
    s3_endpoint, tmp_path, monkeypatch
):
    """An analyst's shell: no MLCOST_S3_ENDPOINT_URL, the endpoint in AWS_ENDPOINT_URL_S3 (the AWS SDKs' variable),
    the session in us-east-1 and the lake's bucket in eu-west-1. DuckDB reads through the endpoint boto3 resolved,
    signing for the bucket's region: S3 refuses a request signed for another, which boto3 follows and DuckDB does
    not."""
    bucket = f"lake-eu-{uuid.uuid4().hex[:12]}"
    boto3.session.Session().client("s3", endpoint_url=s3_endpoint, region_name="eu-west-1").create_bucket(
        Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": "eu-west-1"}
    )
    monkeypatch.setenv("AWS_ENDPOINT_URL_S3", s3_endpoint)
    settings = Settings(home=tmp_path, lake_uri=f"s3://{bucket}/{PREFIX}")
    assert settings.s3_endpoint_url is None
    store = object_lake.ObjectLake(settings)
    assert object_lake.bucket_region(store.client, bucket) == "eu-west-1"
    local = tmp_path / "r.parquet"
    duckdb.execute(
        f"COPY (SELECT DATE '2026-10-01' AS billing_period, 0.25 AS difference) TO '{local}' (FORMAT parquet)"
    )
    digest = lake.file_sha256(local)
    record = {"generation": "g", "reconciled": True, "files": {"reconciliation": {"2026-10-01": digest}}}
    store.publish({"2026-10-01": record}, {"2026-10-01": {"reconciliation": {"2026-10-01": local}}})

    con = object_lake.connect_reader(settings)
    try:
        assert con.execute("SELECT billing_period, difference FROM reconciliation").fetchall() == [
            (date(2026, 10, 1), Decimal("0.250"))
        ]
        (secret,) = con.execute(
            "SELECT secret_string FROM duckdb_secrets() WHERE name = 'mlcost_lake'"
        ).fetchone()
    finally:
        con.close()
    assert "region=eu-west-1" in secret and f"endpoint={s3_endpoint.split('//')[1]}" in secret


def test_the_duckdb_secret_names_an_endpoint_only_where_duckdb_would_not_find_the_bucket():
    """AWS's public hosts: DuckDB's own endpoint and the bucket's region; China: its regional host; anything else
    (MinIO, moto, a VPC interface endpoint): that host, path-style, TLS as the URL says."""
    cases = {
        "https://s3.amazonaws.com": None,
        "https://s3.us-east-1.amazonaws.com": None,
        "https://s3.dualstack.eu-west-1.amazonaws.com": None,
        "https://s3-fips.us-east-2.amazonaws.com": None,
        "https://s3.cn-north-1.amazonaws.com.cn": ("s3.cn-north-1.amazonaws.com.cn", None, None),
        "https://bucket.vpce-0a1b.s3.us-east-1.vpce.amazonaws.com": (
            "bucket.vpce-0a1b.s3.us-east-1.vpce.amazonaws.com",
            "path",
            "True",
        ),
        "http://127.0.0.1:9000": ("127.0.0.1:9000", "path", "False"),
        "https://minio.example.internal:9000": ("minio.example.internal:9000", "path", "True"),
    }
    for url, expected in cases.items():
        region = "cn-north-1" if url.endswith(".cn") else "eu-west-1"
        options = object_lake.secret_options(url, region, None)
        assert options["REGION"] == region and "KEY_ID" not in options
        got = (
            (options["ENDPOINT"], options.get("URL_STYLE"), options.get("USE_SSL"))
            if "ENDPOINT" in options
            else None
        )
        assert got == expected, url
