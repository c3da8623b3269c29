"""Download tests that take the ``download_mode`` fixture run in every way shipkey can serve:

- ``stream-disk``: the app streams from local disk;
- ``stream-s3``: the app streams from S3 (the moto server);
- ``redirect``: 302 to a presigned S3 URL, which the clients follow to the moto server;
- ``x-accel``: every request goes through a real nginx configured from the shipped example.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx2
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from shipkey.config import Settings
from shipkey.storage import Storage, storage_for
from shipkey.storage.s3 import S3Storage
from tests.conftest import ADMIN_TOKEN
from tests.downloads.nginx import run_nginx
from tests.s3_server import S3Bucket

MODES = ["stream-disk", "stream-s3", "redirect", "x-accel"]


@pytest.fixture(params=MODES)
def download_mode(request: pytest.FixtureRequest) -> str:
    mode: str = request.param
    return mode


def _mode(request: pytest.FixtureRequest) -> str:
    if "download_mode" not in request.fixturenames:
        return "stream-disk"
    mode: str = request.getfixturevalue("download_mode")
    return mode


@pytest.fixture
def settings_overrides(request: pytest.FixtureRequest) -> dict[str, Any]:
    mode = _mode(request)
    if mode in {"stream-s3", "redirect"}:
        bucket: S3Bucket = request.getfixturevalue("s3_bucket")
        return {
            "storage_url": bucket.storage_url,
            "s3_endpoint_url": bucket.endpoint_url,
            "download_mode": "redirect" if mode == "redirect" else "stream",
        }
    if mode == "x-accel":
        return {"download_mode": "x-accel"}
    return {}


@pytest.fixture
def storage(settings: Settings, request: pytest.FixtureRequest) -> Storage:
    """The backend the settings name; S3 through the run's shared client."""
    if settings.download_mode == "x-accel" or _mode(request) == "stream-disk":
        return storage_for(settings)
    bucket: S3Bucket = request.getfixturevalue("s3_bucket")
    return S3Storage(bucket.bucket, "files", client=request.getfixturevalue("s3_client"))


@pytest.fixture
def live_server(live_server: str, settings: Settings, tmp_path: Path) -> Iterator[str]:
    """Where real HTTP clients reach shipkey: the server itself, or nginx in front of it."""
    if settings.download_mode != "x-accel":
        yield live_server
        return
    files = Path(settings.resolved_storage_url.removeprefix("file://"))
    with run_nginx(live_server, files, tmp_path / "nginx") as url:
        yield url


class _Transport(httpx2.BaseTransport):  # the test client speaks httpx2
    """Requests for the test app go to it in-process, or to ``upstream`` (nginx) when given;
    requests for other hosts (a presigned S3 URL) go over the network."""

    def __init__(self, in_process: httpx2.BaseTransport, upstream: str | None) -> None:
        self._in_process = in_process
        self._network = httpx2.HTTPTransport()
        self._upstream = httpx2.URL(upstream) if upstream else None

    def handle_request(self, request: httpx2.Request) -> httpx2.Response:
        if request.url.host != "testserver":
            return self._network.handle_request(request)
        if self._upstream is None:
            return self._in_process.handle_request(request)
        request.url = request.url.copy_with(
            scheme=self._upstream.scheme, host=self._upstream.host, port=self._upstream.port
        )
        return self._network.handle_request(request)

    def close(self) -> None:
        self._network.close()
        self._in_process.close()


def _client(app: FastAPI, request: pytest.FixtureRequest, **kwargs: Any) -> TestClient:
    client = TestClient(app, **kwargs)
    mode = _mode(request)
    if mode in {"redirect", "x-accel"}:
        upstream = request.getfixturevalue("live_server") if mode == "x-accel" else None
        client._transport = _Transport(client._transport, upstream)
    return client


@pytest.fixture
def client(app: FastAPI, request: pytest.FixtureRequest) -> Iterator[TestClient]:
    with _client(app, request) as test_client:
        yield test_client


@pytest.fixture
def admin(app: FastAPI, request: pytest.FixtureRequest) -> Iterator[TestClient]:
    with _client(app, request, headers={"Authorization": f"Bearer {ADMIN_TOKEN}"}) as test_client:
        yield test_client
