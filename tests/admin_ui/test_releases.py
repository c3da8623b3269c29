"""Releases on the product page: publish, upload (the script's target), yank, downloads."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from fastapi.testclient import TestClient

from tests.portal.helpers import csrf_of


def test_publish_upload_yank_and_count(
    seller: TestClient, admin: TestClient, client: TestClient, sale: dict[str, Any]
) -> None:
    page = "/admin/products/pixel-forge"
    token = csrf_of(seller, page)
    published = seller.post(
        "/admin/products/pixel-forge/releases",
        data={"version": "2.1.0", "channel": "beta", "notes": "Layers.", "csrf_token": token},
        follow_redirects=False,
    )
    assert published.status_code == 303, published.text
    releases = admin.get("/api/admin/products/pixel-forge/releases").json()
    assert [(r["version"], r["channel"], r["notes"]) for r in releases] == [
        ("2.1.0", "beta", "Layers.")
    ]
    release_id = releases[0]["id"]
    url = f"/admin/releases/{release_id}/artifacts?filename=forge.zip&platform=linux"
    assert seller.put(url, content=b"zip").status_code == 403  # no CSRF header
    done = seller.put(url, content=b"zip-bytes", headers={"X-CSRF-Token": token})
    assert done.status_code == 200, done.text
    assert done.json()["fileName"] == "forge.zip"
    shown = seller.get(page).text
    assert "forge.zip" in shown
    assert "linux / any" in shown
    assert "Layers." in shown

    key = sale["licenses"][0]["key"]
    latest = client.get(
        "/api/releases/pixel-forge/latest",
        params={"channel": "beta", "platform": "linux"},
        headers={"Authorization": f"License {key}"},
    )
    link = urlsplit(latest.json()["artifacts"][0]["url"])
    assert client.get(f"{link.path}?{link.query}").content == b"zip-bytes"
    assert "data-downloads>1<" in seller.get(page).text

    refused = seller.post(
        "/admin/products/pixel-forge/releases",
        data={"version": "not a version", "csrf_token": token},
        follow_redirects=False,
    )
    assert refused.status_code == 400
    yanked = seller.post(
        f"/admin/releases/{release_id}/yank",
        data={"reason": "Crashes on start", "csrf_token": token},
        follow_redirects=False,
    )
    assert yanked.status_code == 303
    shown = seller.get(page).text
    assert "Crashes on start" in shown
    assert admin.get("/api/admin/products/pixel-forge/releases").json()[0]["yanked"] is True
