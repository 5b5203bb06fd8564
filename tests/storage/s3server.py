"""A real S3 API on 127.0.0.1 (moto's server mode) for S3Store tests, when installed.

boto3 and moto are optional; without them every S3 test is skipped with what to install.
"""

from __future__ import annotations

import socket
import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from zakipost.storage import S3Store

MISSING = (
    "S3Store tests need boto3 and moto's server mode: "
    "pip install boto3 'moto[server]' (add both to the dev dependencies)"
)
REGION = "us-east-1"
CREDENTIALS = {"access_key_id": "testing", "secret_access_key": "testing"}


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="session")
def s3_endpoint() -> Iterator[str]:
    """The URL of a moto S3 server running in a thread for the whole session."""
    try:
        import boto3  # noqa: F401
        from moto.server import ThreadedMotoServer
    except ImportError:
        pytest.skip(MISSING)
    port = _free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.stop()


def make_s3_store(endpoint: str, **kwargs: Any) -> S3Store:
    """A store over a fresh bucket of its own."""
    bucket = f"zp-{uuid.uuid4().hex[:16]}"
    store = S3Store.from_settings(
        bucket=bucket,
        endpoint_url=endpoint,
        region=REGION,
        access_key_id=CREDENTIALS["access_key_id"],
        secret_access_key=CREDENTIALS["secret_access_key"],
        public_base_url=f"{endpoint}/{bucket}",
    )
    store.client.create_bucket(Bucket=bucket)
    for name, value in kwargs.items():
        setattr(store, name, value)
    return store


@pytest.fixture
def s3_store(s3_endpoint: str) -> S3Store:
    return make_s3_store(s3_endpoint)
