"""The published lake on object storage (`MLCOST_LAKE=s3://bucket/prefix`): content-addressed Parquet objects in
Hive-style folders, made visible by one JSON manifest that readers follow.

The pipeline still computes in its local working lake (`$MLCOST_HOME/lake`, pipelines/storage/lake.py) and publishes
generations there (pipelines/storage/generations.py). With an S3 lake, the same publish also pushes each period's
generation to the bucket, in this order:

1. every file of the generation is uploaded to `<prefix>/<table>/<column>=<value>/<sha256>.parquet` (its key is
   its SHA-256: a new version never overwrites the object a reader may be reading; an object already there is not
   sent again). The upload carries the SHA-256 as S3's own checksum, so S3 refuses bytes that differ from it;
2. `<prefix>/_published.json`, the manifest, is replaced in one PUT, conditional on the ETag read before
   (`If-Match`, or `If-None-Match: *` for the first one): a publisher that raced another gets PublishRefused and
   publishes nothing. This PUT is the publish point. A writer stopped before it leaves the previous manifest,
   whose objects are all still there; the new objects it uploaded are unreferenced, and no reader lists them;
3. `<prefix>/_symlinks/<table>/<column>=<value>/manifest` (one `s3://` URL a line) for each partition just
   published: the files Athena/Trino read through `SymlinkTextInputFormat` (docs/architecture.md).

Readers (`mlcost sql`, `connect_reader`) read the manifest and only the objects it names, through DuckDB's httpfs
extension, loaded from the pinned `duckdb-extension-httpfs` wheel (this DuckDB cannot download extensions).
Objects no manifest names any more are deleted `GARBAGE_GRACE` after they were written, so a session that read an
older manifest keeps working that long.
"""

from __future__ import annotations

import base64
import importlib.resources
import json
import logging
import re
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import urlparse

import boto3
import duckdb
from boto3.s3.transfer import TransferConfig
from botocore.exceptions import BotoCoreError, ClientError

from pipelines.billing import s3 as s3io
from pipelines.config import Settings
from pipelines.errors import InputError
from pipelines.storage import lake
from pipelines.storage.sqlfiles import quote_ident, quote_literal

log = logging.getLogger(__name__)

MANIFEST_KEY = "_published.json"
SYMLINKS_DIR = "_symlinks"
MANIFEST_VERSION = 1
# Unreferenced objects younger than this are kept: a reader that opened the previous manifest still reads them.
GARBAGE_GRACE = timedelta(hours=24)
UPLOAD_THREADS = 8
# The extension is shipped as a wheel for exactly this DuckDB release (pyproject.toml pins both).
HTTPFS_WHEEL = "duckdb_extension_httpfs"


class ObjectLake:
    """One S3 lake: bucket, prefix, client."""

    def __init__(self, settings: Settings):
        if not settings.lake_uri:
            raise ValueError("no MLCOST_LAKE: the lake is local")
        self.settings = settings
        self.uri = settings.lake_uri.rstrip("/")
        self.bucket, prefix = s3io.parse_s3_uri(self.uri)
        self.prefix = prefix.strip("/")
        self.client = s3io.make_client(settings.s3_endpoint_url)

    def key(self, name: str) -> str:
        return f"{self.prefix}/{name}" if self.prefix else name

    def url(self, key: str) -> str:
        return f"s3://{self.bucket}/{key}"

    def data_key(self, table: str, value: str, digest: str) -> str:
        """`<prefix>/<table>/<column>=<value>/<sha256>.parquet`: Hive-style folder, content-addressed name."""
        return self.key(f"{table}/{lake.PARTITION_COLUMNS[table]}={value}/{digest}.parquet")

    # --- the manifest --------------------------------------------------------------------------------------

    def read_manifest(self) -> tuple[dict, str | None]:
        """The manifest and its ETag ({"periods": {}} and None before the first publish)."""
        key = self.key(MANIFEST_KEY)
        try:
            response = self.client.get_object(Bucket=self.bucket, Key=key)
            data, etag = response["Body"].read(), response["ETag"]
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") in ("NoSuchKey", "404"):
                return {"version": MANIFEST_VERSION, "periods": {}}, None
            raise s3io.s3_failure(self.url(key), exc) from None
        except BotoCoreError as exc:
            raise s3io.s3_failure(self.url(key), exc) from None
        try:
            manifest = json.loads(data)
        except json.JSONDecodeError as exc:
            raise InputError(self.url(key), f"the lake's manifest is not JSON ({exc})") from None
        if not isinstance(manifest, dict) or not isinstance(manifest.get("periods"), dict):
            raise InputError(self.url(key), "not a manifest of published generations (no 'periods' mapping)")
        return manifest, etag

    def write_manifest(self, manifest: dict, etag: str | None) -> None:
        """Replace the manifest in one PUT, only if it is still the version whose ETag was read."""
        from pipelines.storage.generations import PublishRefused

        key = self.key(MANIFEST_KEY)
        body = json.dumps(manifest, indent=1, sort_keys=True).encode()
        condition = {"IfMatch": etag} if etag else {"IfNoneMatch": "*"}
        lake.publish_step("switch lake manifest")
        try:
            self.client.put_object(
                Bucket=self.bucket, Key=key, Body=body, ContentType="application/json", **condition
            )
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") in (
                "PreconditionFailed",
                "ConditionalRequestConflict",
            ):
                raise PublishRefused(
                    f"{self.url(key)} was replaced by another publisher while this one uploaded; nothing is "
                    "published by this run (readers keep that publisher's manifest); run again"
                ) from None
            raise s3io.s3_failure(self.url(key), exc) from None

    # --- publishing ----------------------------------------------------------------------------------------

    def upload(self, path: Path, key: str, digest: str) -> bool:
        """Upload one file to its content-addressed key unless it is there; S3 checks the SHA-256. Returns
        whether it was sent."""
        try:
            head = self.client.head_object(Bucket=self.bucket, Key=key)
            if (
                head.get("Metadata", {}).get("sha256") == digest
                and head["ContentLength"] == path.stat().st_size
            ):
                return False
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") not in ("404", "NoSuchKey", "NotFound"):
                raise s3io.s3_failure(self.url(key), exc) from None
        lake.publish_step(f"upload {key}")
        extra = {"Metadata": {"sha256": digest}, "ChecksumAlgorithm": "SHA256"}
        config = TransferConfig(
            multipart_threshold=1 << 30
        )  # up to 1 GiB in one PUT: one whole-file checksum
        if path.stat().st_size < config.multipart_threshold:
            extra["ChecksumSHA256"] = base64.b64encode(bytes.fromhex(digest)).decode()
        try:
            self.client.upload_file(str(path), self.bucket, key, ExtraArgs=extra, Config=config)
        except (ClientError, BotoCoreError, boto3.exceptions.S3UploadFailedError) as exc:
            raise InputError(self.url(key), f"upload of {path} failed ({exc})") from None
        return True

    def publish(self, records: dict[str, dict], files: dict[str, dict[str, dict[str, Path]]]) -> list[str]:
        """Push published generations: `records` {period: catalog record}, `files` {period: {table: {value:
        local file}}}. Uploads the objects, then switches the manifest for these periods at once. Returns the
        periods switched."""
        from pipelines.storage.generations import PublishRefused

        manifest, etag = self.read_manifest()
        new_records = {}
        uploads = []  # (local file, key, SHA-256)
        for period, record in sorted(records.items()):
            objects: dict[str, dict[str, str]] = {}
            for table, values in sorted(record["files"].items()):
                for value, digest in sorted(values.items()):
                    key = self.data_key(table, value, digest)
                    uploads.append((files[period][table][value], key, digest))
                    objects.setdefault(table, {})[value] = self.url(key)
            new_records[period] = {
                **{k: v for k, v in record.items() if k != "folder"},
                "objects": objects,
            }

        def send(item: tuple[Path, str, str]) -> bool:
            path, key, digest = item
            if lake.file_sha256(path) != digest:
                raise PublishRefused(f"{path} changed while it was being published to {self.uri}")
            return self.upload(path, key, digest)

        # A month is ~200 objects (17 tables, the daily ones a file per day): sent by a few threads.
        with ThreadPoolExecutor(UPLOAD_THREADS) as pool:
            uploaded = sum(pool.map(send, uploads))
        previous = {p: manifest["periods"].get(p, {}).get("objects", {}) for p in new_records}
        manifest["version"] = MANIFEST_VERSION
        manifest["layout"] = "<table>/<partition column>=<value>/<sha256>.parquet"
        manifest["periods"].update(new_records)
        self.write_manifest(manifest, etag)
        for period, record in sorted(new_records.items()):
            self.write_symlinks(record["objects"], previous[period])
        log.info(
            "%s: published %s (%d object(s) uploaded)", self.uri, ", ".join(sorted(new_records)), uploaded
        )
        self.collect_garbage(manifest)
        return sorted(new_records)

    def symlink_key(self, table: str, value: str) -> str:
        return self.key(f"{SYMLINKS_DIR}/{table}/{lake.PARTITION_COLUMNS[table]}={value}/manifest")

    def write_symlinks(self, objects: dict[str, dict[str, str]], previous: dict[str, dict[str, str]]) -> None:
        """One `manifest` text object per partition, listing its file: what SymlinkTextInputFormat reads. A
        partition the period no longer has (a day with no row any more) loses its symlink."""

        def put(item: tuple[str, str, str]) -> None:
            table, value, url = item
            key = self.symlink_key(table, value)
            self.client.put_object(Bucket=self.bucket, Key=key, Body=(url + "\n").encode())

        links = [(t, v, url) for t, values in sorted(objects.items()) for v, url in sorted(values.items())]
        with ThreadPoolExecutor(UPLOAD_THREADS) as pool:
            list(pool.map(put, links))
        for table, values in sorted(previous.items()):
            for value in sorted(set(values) - set(objects.get(table, {}))):
                self.client.delete_object(Bucket=self.bucket, Key=self.symlink_key(table, value))

    def collect_garbage(self, manifest: dict, now: datetime | None = None) -> int:
        """Delete data objects no manifest period names, written over GARBAGE_GRACE ago. Returns how many."""
        now = now or datetime.now(UTC)
        named = {
            url
            for record in manifest["periods"].values()
            for v in record["objects"].values()
            for url in v.values()
        }
        stale = []
        for table in lake.PARTITION_COLUMNS:
            for obj in self._list(self.key(table + "/")):
                if self.url(obj["Key"]) not in named and now - obj["LastModified"] > GARBAGE_GRACE:
                    stale.append(obj["Key"])
        for key in stale:
            self.client.delete_object(Bucket=self.bucket, Key=key)
        return len(stale)

    def _list(self, prefix: str) -> Iterable[dict]:
        paginator = self.client.get_paginator("list_objects_v2")
        for page in paginator.paginate(Bucket=self.bucket, Prefix=prefix):
            yield from page.get("Contents", [])

    # --- reading -------------------------------------------------------------------------------------------

    def table_objects(self, manifest: dict) -> dict[str, list[str]]:
        """Per table, the URLs of the objects the manifest names, sorted (every period's)."""
        out: dict[str, list[str]] = {}
        for _period, record in sorted(manifest["periods"].items()):
            for table, values in record["objects"].items():
                out.setdefault(table, []).extend(values.values())
        return {table: sorted(urls) for table, urls in out.items()}


def publish_generation(settings: Settings, catalog: dict, periods: Iterable[str]) -> list[str]:
    """Push `periods` of the local catalog (just published by `generations.PendingGeneration`) to the S3 lake,
    and any period of the catalog the S3 manifest lacks (a lake that moved to S3 after it was published)."""
    from pipelines.storage.generations import file_name

    store = ObjectLake(settings)
    manifest, _ = store.read_manifest()
    wanted = set(periods) | (set(catalog["periods"]) - set(manifest["periods"]))
    records = {p: catalog["periods"][p] for p in sorted(wanted) if p in catalog["periods"]}
    files = {
        period: {
            table: {v: settings.lake / record["folder"] / table / file_name(table, v) for v in values}
            for table, values in record["files"].items()
        }
        for period, record in records.items()
    }
    return store.publish(records, files) if records else []


def httpfs_path() -> Path:
    """The httpfs extension binary shipped by the pinned wheel."""
    root = importlib.resources.files(HTTPFS_WHEEL) / "extensions" / f"v{duckdb.__version__}"
    return Path(str(root / "httpfs.duckdb_extension"))


# AWS's public S3 endpoints (global, regional, dual-stack, FIPS), which DuckDB reaches by the bucket's region alone.
# Any other endpoint (MinIO, moto, a VPC interface endpoint `*.vpce.amazonaws.com`) is given to DuckDB as host:port
# with the bucket in the path.
_AWS_PUBLIC_S3_HOST = re.compile(r"s3([.-][a-z0-9-]+)*\.amazonaws\.com(\.cn)?")


def attach_s3(con: duckdb.DuckDBPyConnection, store: ObjectLake) -> None:
    """Load httpfs and give the session, as a temporary secret (nothing is stored in a file), what boto3 uses for
    the lake: the credentials its chain finds (environment, ~/.aws, instance role), the endpoint its client resolved
    (MLCOST_S3_ENDPOINT_URL, else AWS_ENDPOINT_URL_S3, AWS_ENDPOINT_URL or the profile's endpoint_url) and the
    bucket's own region.

    boto3 follows a bucket to its region by itself; DuckDB signs every request for the one region it is given, and
    S3 refuses a request signed for another (AuthorizationHeaderMalformed). An analyst's laptop set to us-east-1
    reading a lake in eu-west-1 is the common case, so the region is the bucket's, not the session's.
    """
    con.execute(f"LOAD {quote_literal(str(httpfs_path()))}")
    session = boto3.session.Session()
    credentials = session.get_credentials()
    options = secret_options(
        store.client.meta.endpoint_url,
        bucket_region(store.client, store.bucket) or session.region_name or "us-east-1",
        credentials.get_frozen_credentials() if credentials is not None else None,
    )
    # CREATE SECRET takes no bound parameters: the values are quoted literals, never logged.
    body = ", ".join(
        f"{k} {v}" if k in ("TYPE", "USE_SSL") else f"{k} {quote_literal(v)}" for k, v in options.items()
    )
    con.execute(f"CREATE OR REPLACE TEMPORARY SECRET mlcost_lake ({body})")


def secret_options(endpoint_url: str, region: str, credentials) -> dict[str, str]:
    """The DuckDB S3 secret's options for a client at `endpoint_url`, a bucket in `region` and boto3's frozen
    credentials (None: anonymous)."""
    options = {"TYPE": "s3", "REGION": region}
    if credentials is not None:
        options.update(KEY_ID=credentials.access_key, SECRET=credentials.secret_key)
        if credentials.token:
            options["SESSION_TOKEN"] = credentials.token
    endpoint = urlparse(endpoint_url)
    host = endpoint.hostname or ""
    if not _AWS_PUBLIC_S3_HOST.fullmatch(host) or ".vpce." in host:
        # An S3-compatible server (MinIO, moto) answers at host:port with the bucket in the path.
        options.update(ENDPOINT=endpoint.netloc, URL_STYLE="path", USE_SSL=str(endpoint.scheme == "https"))
    elif host.endswith(".cn"):
        # DuckDB's default host, s3.amazonaws.com, does not serve AWS's China regions.
        options["ENDPOINT"] = f"s3.{region}.amazonaws.com.cn"
    return options


def bucket_region(client, bucket: str) -> str | None:
    """The region `bucket` lives in, from the `x-amz-bucket-region` header S3 sends on a HEAD of the bucket (with a
    403 too: a reader allowed to get objects but not to list the bucket still learns it), or None when the store
    does not say (some S3-compatible stores) or cannot be reached."""
    try:
        response = client.head_bucket(Bucket=bucket)
    except ClientError as exc:
        response = exc.response
    except BotoCoreError:
        return None
    return response.get("ResponseMetadata", {}).get("HTTPHeaders", {}).get("x-amz-bucket-region") or None


def connect_reader(settings: Settings) -> duckdb.DuckDBPyConnection:
    """An in-memory DuckDB with one view per table over the objects the S3 manifest names, and nothing else.

    The views list their objects explicitly (`hive_partitioning = false`: the partition column is in the files),
    so no reader lists a prefix and an object no manifest names is never read. Creating a view reads the footer
    of each of its objects (`union_by_name`: a column added later is NULL in older files), one request each, so
    the tables' views are created by several threads (2 months, 402 objects on moto: 9.0 s -> 5.0 s).
    """
    store = ObjectLake(settings)
    manifest, _ = store.read_manifest()
    if not manifest["periods"]:
        raise InputError(
            store.url(store.key(MANIFEST_KEY)), "no published generation yet: run `mlcost run` first"
        )
    con = duckdb.connect(":memory:")
    try:
        con.execute("SET TimeZone = 'UTC'")
        attach_s3(con, store)
        tables = store.table_objects(manifest)

        def create(table: str) -> None:
            listed = "[" + ", ".join(quote_literal(u) for u in tables[table]) + "]"
            cursor = con.cursor()  # a cursor per thread: one DuckDB connection is not shared by threads
            try:
                cursor.execute(
                    f"CREATE VIEW {quote_ident(table)} AS SELECT * FROM "
                    f"read_parquet({listed}, union_by_name = true, hive_partitioning = false)"
                )
            finally:
                cursor.close()

        with ThreadPoolExecutor(UPLOAD_THREADS) as pool:
            list(pool.map(create, sorted(tables)))
        from pipelines.storage.warehouse import _comment

        for table in sorted(tables):
            _comment(con, table)
    except BaseException:
        con.close()
        raise
    return con


# --- other engines ----------------------------------------------------------------------------------------------

# DuckDB type (as declared in pipelines/storage/tables.py) -> Athena (Hive DDL) type.
ATHENA_TYPES = {
    "BIGINT": "bigint",
    "INTEGER": "int",
    "DOUBLE": "double",
    "DOUBLE[]": "array<double>",
    "DATE": "date",
    "TIMESTAMP": "timestamp",
    "VARCHAR": "string",
    "MAP(VARCHAR, VARCHAR)": "map<string,string>",
}


def athena_ddl(table: str, lake_uri: str = "s3://BUCKET/PREFIX", first: str = "2018-01-01") -> str:
    """Athena's CREATE EXTERNAL TABLE for one table of an S3 lake: Parquet read through the per-partition symlink
    manifests (only published objects), partitions found by projection (no crawler, no MSCK REPAIR)."""
    from pipelines.storage.tables import TABLES

    column = lake.PARTITION_COLUMNS[table]
    monthly = column == "billing_period"
    columns = ",\n".join(
        f"  `{name}` {ATHENA_TYPES[kind]}" for name, kind in TABLES[table].types.items() if name != column
    )
    root = f"{lake_uri.rstrip('/')}/{SYMLINKS_DIR}/{table}"
    return (
        f"CREATE EXTERNAL TABLE mlcost.{table} (\n{columns}\n)\n"
        f"PARTITIONED BY (`{column}` date)\n"
        "ROW FORMAT SERDE 'org.apache.hadoop.hive.ql.io.parquet.serde.ParquetHiveSerDe'\n"
        "STORED AS INPUTFORMAT 'org.apache.hadoop.hive.ql.io.SymlinkTextInputFormat'\n"
        "OUTPUTFORMAT 'org.apache.hadoop.hive.ql.io.HiveIgnoreKeyTextOutputFormat'\n"
        f"LOCATION '{root}/'\n"
        "TBLPROPERTIES (\n"
        "  'projection.enabled' = 'true',\n"
        f"  'projection.{column}.type' = 'date',\n"
        f"  'projection.{column}.format' = 'yyyy-MM-dd',\n"
        f"  'projection.{column}.range' = '{first},NOW',\n"
        f"  'projection.{column}.interval' = '1',\n"
        f"  'projection.{column}.interval.unit' = '{'MONTHS' if monthly else 'DAYS'}',\n"
        f"  'storage.location.template' = '{root}/{column}=${{{column}}}/'\n"
        ");"
    )
