"""Talking to S3 for billing deliveries: list a prefix, read manifests, stage data files locally, verified.

Credentials and region come from boto3's default chain (environment, shared config, instance role); nothing
here reads, logs or prints them. Data files are streamed to a temporary file beside their staged path and
renamed into place only once their size (and, for single-part uploads, their MD5) has been checked.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

import boto3
from botocore.config import Config
from botocore.exceptions import (
    BotoCoreError,
    ClientError,
    ConnectionClosedError,
    ConnectTimeoutError,
    EndpointConnectionError,
    IncompleteReadError,
    NoCredentialsError,
    ReadTimeoutError,
    ResponseStreamingError,
)

from pipelines.errors import InputError

CHUNK_BYTES = 1 << 20
# A manifest is a few hundred kilobytes at most; anything far larger is not one and must not sit in memory.
MAX_MANIFEST_BYTES = 64 << 20
DOWNLOAD_ATTEMPTS = 3
# Seconds before re-downloading a file whose transfer broke or failed verification; doubled each time.
BACKOFF_SECONDS = 0.5
SIDECAR_SUFFIX = ".staged.json"
_BUCKET_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,254}$")
_RETRIES = {"max_attempts": 5, "mode": "standard"}
# Transfer interruptions that botocore's request retries do not cover: they happen while the body is streamed.
_STREAM_ERRORS = (ResponseStreamingError, IncompleteReadError, ReadTimeoutError, ConnectionClosedError)


class DownloadError(InputError):
    """A data file could not be staged intact: its size or checksum did not match, try after try."""


class TransientS3Error(InputError):
    """S3 failed in a way a later run may not meet: throttling, 5xx, timeouts, a delivery being rewritten.

    Raised only once botocore's own retries are spent; an orchestrator may schedule a retry of the run.
    """


_TRANSIENT_CODES = {
    "SlowDown",
    "Throttling",
    "ThrottlingException",
    "RequestTimeout",
    "RequestTimeTooSkewed",
    "InternalError",
    "ServiceUnavailable",
    "500",
    "502",
    "503",
    "504",
}


@dataclass(frozen=True)
class S3Object:
    """One listed object: its size and ETag (quotes kept, as S3 returns it)."""

    key: str
    size: int
    etag: str


def parse_s3_uri(uri: str) -> tuple[str, str]:
    """Split ``s3://bucket/key`` into bucket and key (key may be empty); raise InputError if malformed."""
    if not uri.startswith("s3://"):
        raise InputError(uri, "is not an s3:// URI")
    bucket, _, key = uri[len("s3://") :].partition("/")
    if not bucket:
        raise InputError(uri, "names no bucket (expected s3://bucket/prefix)")
    # The bucket name becomes a folder of the staging area: nothing but a valid name may get there.
    if not _BUCKET_NAME.match(bucket):
        raise InputError(uri, f"{bucket!r} is not a valid S3 bucket name")
    return bucket, key


def make_client(endpoint_url: str | None = None):
    """An S3 client from boto3's default credential chain, with standard retries and backoff."""
    session = boto3.session.Session()
    config = Config(retries=dict(_RETRIES), connect_timeout=10, read_timeout=120)
    return session.client("s3", endpoint_url=endpoint_url or None, config=config)


def s3_failure(uri: str, exc: Exception) -> InputError:
    """The error to raise for a failed S3 call: TransientS3Error when a later try may succeed."""
    transient = isinstance(exc, (EndpointConnectionError, ConnectTimeoutError, *_STREAM_ERRORS)) or (
        isinstance(exc, ClientError) and exc.response.get("Error", {}).get("Code", "") in _TRANSIENT_CODES
    )
    return (TransientS3Error if transient else InputError)(uri, client_problem(exc))


def client_problem(exc: Exception) -> str:
    """A one-line description of an S3 failure for a user, without request ids or credentials."""
    if isinstance(exc, NoCredentialsError):
        return "no AWS credentials found (boto3 looks in the environment, ~/.aws and the instance role)"
    if isinstance(exc, EndpointConnectionError):
        return f"cannot connect to the S3 endpoint ({exc})"
    if isinstance(exc, ClientError):
        error = exc.response.get("Error", {})
        code = error.get("Code", "Unknown")
        if code in ("NoSuchBucket", "404"):
            return "the bucket does not exist"
        if code in ("AccessDenied", "403", "InvalidAccessKeyId", "SignatureDoesNotMatch", "ExpiredToken"):
            return f"access denied by S3 ({code}); check the credentials and the bucket policy"
        return f"S3 error {code}: {error.get('Message', '')}".rstrip(": ")
    return f"S3 request failed ({exc})"


def list_objects(client, bucket: str, prefix: str) -> Iterator[S3Object]:
    """Every object whose key starts with `prefix`, page by page; folder markers (ending in /) left out."""
    paginator = client.get_paginator("list_objects_v2")
    try:
        for page in paginator.paginate(Bucket=bucket, Prefix=prefix):
            for item in page.get("Contents", []):
                if item["Key"].endswith("/"):
                    continue
                yield S3Object(item["Key"], int(item["Size"]), item.get("ETag", ""))
    except (ClientError, BotoCoreError) as exc:
        raise s3_failure(f"s3://{bucket}/{prefix}", exc) from None


def read_small_object(client, bucket: str, key: str) -> bytes:
    """The whole body of a small object (a manifest); refuses anything larger than MAX_MANIFEST_BYTES."""
    uri = f"s3://{bucket}/{key}"
    try:
        response = client.get_object(Bucket=bucket, Key=key)
        length = int(response.get("ContentLength", 0))
        if length > MAX_MANIFEST_BYTES:
            response["Body"].close()
            raise InputError(uri, f"is {length} bytes, too large to be a manifest")
        data = response["Body"].read()
    except (ClientError, BotoCoreError) as exc:
        raise s3_failure(uri, exc) from None
    if len(data) != length:
        raise DownloadError(uri, f"read {len(data)} bytes but S3 announced {length}")
    return data


def staged_path(staging_dir: Path, bucket: str, key: str) -> Path:
    """Where `key` of `bucket` is staged, ``staging_dir/<bucket>/<key>``; refuses keys that would escape."""
    unsafe_key = (
        not key or key.startswith("/") or "\\" in key or any(p in ("", ".", "..") for p in key.split("/"))
    )
    if unsafe_key or not _BUCKET_NAME.match(bucket):
        raise InputError(f"s3://{bucket}/{key}", "cannot be staged safely (empty, absolute or with '..')")
    return Path(staging_dir, bucket, *PurePosixPath(key).parts)


def _sidecar(path: Path) -> Path:
    # Hidden, so that a staging folder read back as a local source never mistakes it for billing data.
    return path.with_name(f".{path.name}{SIDECAR_SUFFIX}")


def _already_staged(path: Path, obj: S3Object) -> bool:
    try:
        recorded = json.loads(_sidecar(path).read_text())
        return (
            recorded.get("size") == obj.size
            and recorded.get("etag") == obj.etag
            and path.stat().st_size == obj.size
        )
    except (OSError, ValueError):
        return False


def write_atomically(path: Path, data: bytes) -> None:
    """Write small content (a manifest copy) to `path` through a temporary file and a rename."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".part")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _single_part_md5(etag: str) -> str | None:
    """The MD5 an ETag stands for, or None for multipart ETags (``<md5>-<parts>``) that are not plain MD5s."""
    value = etag.strip('"').lower()
    if "-" in value or len(value) != 32:
        return None
    return value


class _Mismatch(Exception):
    """The bytes received are not the object listed; worth one more try before giving up."""


def _fetch_once(client, bucket: str, obj: S3Object, dest: Path) -> None:
    uri = f"s3://{bucket}/{obj.key}"
    try:
        # If-Match: the object must still be the listed one, or the staged file would not fit the fingerprint.
        response = client.get_object(Bucket=bucket, Key=obj.key, IfMatch=obj.etag)
    except ClientError as exc:
        code = exc.response.get("Error", {}).get("Code", "")
        if code in ("PreconditionFailed", "412"):
            raise TransientS3Error(
                uri, "changed on S3 while it was being staged (a new delivery is arriving); run again"
            ) from None
        if code in ("NoSuchKey", "404"):
            raise TransientS3Error(
                uri, "disappeared from S3 after it was listed (a new delivery is arriving); run again"
            ) from None
        raise s3_failure(uri, exc) from None
    except BotoCoreError as exc:
        raise s3_failure(uri, exc) from None
    announced = int(response.get("ContentLength", -1))
    # SSE-KMS and SSE-C objects have ETags that are not the MD5 of their content.
    encrypted = str(response.get("ServerSideEncryption", "")).startswith("aws:kms") or bool(
        response.get("SSECustomerAlgorithm")
    )
    expected_md5 = None if encrypted else _single_part_md5(obj.etag)
    digest = hashlib.md5(usedforsecurity=False)
    written = 0
    dest.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=dest.parent, prefix=f".{dest.name}.", suffix=".part")
    try:
        with os.fdopen(fd, "wb") as fh:
            for chunk in response["Body"].iter_chunks(CHUNK_BYTES):
                fh.write(chunk)
                digest.update(chunk)
                written += len(chunk)
        if written != obj.size or written != announced:
            raise _Mismatch(f"received {written} bytes, expected {obj.size} (S3 announced {announced})")
        if expected_md5 is not None and digest.hexdigest() != expected_md5:
            raise _Mismatch(f"MD5 {digest.hexdigest()} does not match the ETag {expected_md5}")
        # The old sidecar goes first: after a crash past the rename, no record may vouch for the new bytes.
        _sidecar(dest).unlink(missing_ok=True)
        os.replace(tmp, dest)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    write_atomically(
        _sidecar(dest),
        json.dumps({"bucket": bucket, "key": obj.key, "size": obj.size, "etag": obj.etag}).encode(),
    )


def stage_object(client, bucket: str, obj: S3Object, staging_dir: Path) -> tuple[Path, bool]:
    """Stage `obj` in ``staging_dir/<bucket>/<key>`` unless an identical copy is there: (path, downloaded)."""
    dest = staged_path(staging_dir, bucket, obj.key)
    if _already_staged(dest, obj):
        return dest, False
    uri = f"s3://{bucket}/{obj.key}"
    for attempt in range(DOWNLOAD_ATTEMPTS):
        try:
            _fetch_once(client, bucket, obj, dest)
            return dest, True
        except (_Mismatch, *_STREAM_ERRORS) as exc:
            if attempt + 1 == DOWNLOAD_ATTEMPTS:
                problem = str(exc) if isinstance(exc, _Mismatch) else f"transfer interrupted ({exc})"
                raise DownloadError(
                    uri, f"download failed verification after {DOWNLOAD_ATTEMPTS} tries: {problem}"
                ) from None
            time.sleep(BACKOFF_SECONDS * 2**attempt)
    raise AssertionError("unreachable")


# Transient S3 errors (throttling, 5xx, timeouts after botocore's own retries) retry the whole step later, with
# waits of 30 s, 1, 2, 4 min: a throttled bucket recovers in minutes, and a nightly has hours to spare.
TRANSIENT_MAX_RETRIES = 4
TRANSIENT_FIRST_WAIT_SECONDS = 30
TRANSIENT_MAX_WAIT_SECONDS = 600


def transient_retry_seconds(retry_number: int) -> int:
    """Exponential backoff for `RetryRequested(seconds_to_wait=...)` of a transient error; retry 0: 30 s."""
    return min(TRANSIENT_FIRST_WAIT_SECONDS * 2 ** max(retry_number, 0), TRANSIENT_MAX_WAIT_SECONDS)
