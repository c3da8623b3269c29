"""The upload script's target."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient

from tests.portal.helpers import csrf_of


def test_uploads_need_the_csrf_header(seller: TestClient, sale: dict[str, Any]) -> None:
    url = "/admin/products/pixel-forge/file?filename=new.zip"
    assert seller.put(url, content=b"data").status_code == 403
    token = csrf_of(seller, "/admin/products/pixel-forge")
    done = seller.put(url, content=b"data", headers={"X-CSRF-Token": token})
    assert done.status_code == 200
    assert done.json()["fileName"] == "new.zip"
