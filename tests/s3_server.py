"""A real S3 endpoint for the tests: the moto server, started once per test process."""

from __future__ import annotations

import os
import secrets
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING

import httpx
import pytest

from shipkey.storage.s3 import S3Storage, make_client

if TYPE_CHECKING:
    from mypy_boto3_s3.client import S3Client

CREDENTIALS = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing-secret",
    "AWS_DEFAULT_REGION": "us-east-1",
}


@dataclass(frozen=True)
class S3Bucket:
    endpoint_url: str
    bucket: str

    @property
    def storage_url(self) -> str:
        return f"s3://{self.bucket}/files"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@pytest.fixture(scope="session")
def s3_endpoint() -> Iterator[str]:
    """The URL of a moto S3 server; the ``AWS_*`` variables point boto3 at fake credentials."""
    saved = {name: os.environ.get(name) for name in CREDENTIALS}
    os.environ.update(CREDENTIALS)
    port = _free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                httpx.get(f"{url}/moto-api/", timeout=2)
                break
            except httpx.TransportError:
                if time.monotonic() > deadline or process.poll() is not None:
                    raise RuntimeError("the moto S3 server did not start") from None
                time.sleep(0.1)
        yield url
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


@pytest.fixture(scope="session")
def s3_client(s3_endpoint: str) -> S3Client:
    """One client for the whole run: making a boto3 client takes a noticeable moment."""
    return make_client(s3_endpoint)


@pytest.fixture
def s3_bucket(s3_endpoint: str, s3_client: S3Client) -> S3Bucket:
    """A new, empty bucket for one test."""
    name = f"shipkey-{secrets.token_hex(6)}"
    s3_client.create_bucket(Bucket=name)
    return S3Bucket(s3_endpoint, name)


@pytest.fixture
def s3_storage(s3_bucket: S3Bucket, s3_client: S3Client) -> S3Storage:
    return S3Storage(s3_bucket.bucket, "files", client=s3_client)
