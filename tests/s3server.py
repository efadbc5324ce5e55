"""A real S3 API over HTTP for tests: moto's threaded server on 127.0.0.1 and a free port, dummy credentials.

Import the fixtures into a test module (``from s3server import s3_endpoint, s3_bucket``). The server runs once
per session; each test gets its own bucket, so tests never see each other's objects.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import boto3
import pytest
from moto.server import ThreadedMotoServer

# Variables that could make boto3 pick up a developer's real identity instead of the dummy one.
_AWS_IDENTITY_VARS = (
    "AWS_PROFILE",
    "AWS_DEFAULT_PROFILE",
    "AWS_SESSION_TOKEN",
    "AWS_SECURITY_TOKEN",
    "AWS_ROLE_ARN",
    "AWS_WEB_IDENTITY_TOKEN_FILE",
    "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
    "AWS_CONTAINER_CREDENTIALS_FULL_URI",
    "AWS_ENDPOINT_URL",
    "AWS_ENDPOINT_URL_S3",
)


@pytest.fixture(scope="session")
def s3_endpoint(tmp_path_factory) -> Iterator[str]:
    """Start moto's S3 server for the session and return its endpoint URL; dummy credentials in the env."""
    no_config = tmp_path_factory.mktemp("aws") / "absent"
    with pytest.MonkeyPatch.context() as env:
        for name in _AWS_IDENTITY_VARS:
            env.delenv(name, raising=False)
        env.setenv("AWS_ACCESS_KEY_ID", "testing")
        env.setenv("AWS_SECRET_ACCESS_KEY", "testing")
        env.setenv("AWS_DEFAULT_REGION", "us-east-1")
        env.setenv("AWS_CONFIG_FILE", str(no_config))
        env.setenv("AWS_SHARED_CREDENTIALS_FILE", str(no_config))
        env.setenv("AWS_EC2_METADATA_DISABLED", "true")
        server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
        server.start()
        host, port = server.get_host_and_port()
        try:
            yield f"http://{host}:{port}"
        finally:
            server.stop()


def make_test_client(endpoint: str):
    """A plain boto3 S3 client on the moto server, for tests to upload and inspect objects."""
    return boto3.session.Session().client("s3", endpoint_url=endpoint, region_name="us-east-1")


@pytest.fixture
def s3_bucket(s3_endpoint) -> tuple[object, str]:
    """A fresh, empty bucket on the moto server: (client, bucket name)."""
    client = make_test_client(s3_endpoint)
    name = f"bills-{uuid.uuid4().hex[:12]}"
    client.create_bucket(Bucket=name)
    return client, name
