"""The client package against a real server, in every download mode: an update checked,
downloaded and verified (size, SHA-256, Ed25519 by the license-file keys)."""

from __future__ import annotations

import os
from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient
from shipkey_client import LicenseClient, LicenseError

from tests.licensing.helpers import licensed_key
from tests.releases.helpers import publish

pytestmark = pytest.mark.usefixtures("download_mode")


def _http(server: str) -> httpx.Client:
    """Links name the configured base URL (http://testserver): sent to the live server."""
    target = httpx.URL(server)

    def _to_server(request: httpx.Request) -> None:
        if request.url.host == "testserver":
            request.url = request.url.copy_with(
                scheme=target.scheme, host=target.host, port=target.port
            )

    return httpx.Client(event_hooks={"request": [_to_server]}, timeout=30)


def test_check_download_and_verify(admin: TestClient, live_server: str, tmp_path: Path) -> None:
    key = licensed_key(admin)
    data = os.urandom(200_000)
    publish(admin, "1.0.0", {"pixel-1.0.0.tar.gz": b"old"}, platform="linux")
    publish(admin, "1.1.0", {"pixel-1.1.0.tar.gz": data}, platform="linux", arch="x86_64")
    publish(admin, "1.2.0", {"pixel-1.2.0.exe": b"win"}, platform="windows")
    with _http(live_server) as http:
        client = LicenseClient(live_server, http=http, product="pixel-app", machine_id="m-1")
        found = client.check_for_update("1.0.0", key=key, platform="linux", arch="x86_64")
        assert found is not None
        assert found.version == "1.1.0"
        path = client.download_update(found, tmp_path / "updates")
        assert path.read_bytes() == data
        assert client.check_for_update("1.1.0", key=key, platform="linux", arch="x86_64") is None
        assert admin.post(f"/api/admin/licenses/{key}/revoke").status_code == 200
        with pytest.raises(LicenseError) as caught:
            client.check_for_update("1.0.0", key=key, platform="linux", arch="x86_64")
        assert caught.value.code == "REVOKED"
