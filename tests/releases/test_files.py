"""Release files behind their short-lived links and in the package index, in every download
mode the download tests use: stream (disk, S3), redirect (S3) and x-accel (nginx)."""

from __future__ import annotations

import base64
import os
from urllib.parse import urlsplit

import pytest
from fastapi.testclient import TestClient

from tests.licensing.helpers import licensed_key
from tests.releases.helpers import publish, wheel

pytestmark = pytest.mark.usefixtures("download_mode")


def _path(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.path}?{parts.query}" if parts.query else parts.path


def test_update_links_serve_ranges_and_count(admin: TestClient, client: TestClient) -> None:
    key = licensed_key(admin)
    data = os.urandom(300_000 + 7)
    publish(admin, "1.0.0", {"pixel-1.0.0.zip": data})
    answer = client.get(
        "/api/releases/pixel-app/latest", headers={"Authorization": f"License {key}"}
    )
    url = answer.json()["artifacts"][0]["url"]
    whole = client.get(_path(url))
    assert whole.status_code == 200
    assert whole.content == data
    assert "pixel-1.0.0.zip" in whole.headers["content-disposition"]
    part = client.get(_path(url), headers={"Range": "bytes=1000-"})  # a resume
    assert part.status_code == 206
    assert part.content == data[1000:]
    head = client.head(_path(url))
    assert head.status_code == 200
    listed = admin.get("/api/admin/products/pixel-app/releases").json()
    assert listed[0]["artifacts"][0]["downloads"] == 1


def test_index_files_serve_ranges(admin: TestClient, client: TestClient) -> None:
    key = licensed_key(admin)
    name, data = wheel("pixel-tools", "1.0.0")
    publish(admin, "1.0.0", {name: data})
    auth = {"Authorization": "Basic " + base64.b64encode(f"license:{key}".encode()).decode()}
    page = client.get("/pypi/pixel-app/simple/pixel-tools/", headers=auth)
    assert page.status_code == 200
    href = page.text.split('href="', 1)[1].split('"', 1)[0]
    path, _, fragment = href.partition("#")
    got = client.get(path, headers=auth)
    assert got.status_code == 200
    assert got.content == data
    part = client.get(path, headers={**auth, "Range": "bytes=0-9"})
    assert part.status_code == 206
    assert part.content == data[:10]
    assert client.get(path).status_code == 401
