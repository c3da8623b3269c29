"""The upload script's target."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.portal.helpers import csrf_of


def test_uploads_need_the_csrf_header(seller: TestClient, sale: dict[str, Any]) -> None:
    url = "/admin/products/pixel-forge/file?filename=new.zip"
    assert seller.put(url, content=b"data").status_code == 403
    token = csrf_of(seller, "/admin/products/pixel-forge")
    done = seller.put(url, content=b"data", headers={"X-CSRF-Token": token})
    assert done.status_code == 200
    assert done.json()["fileName"] == "new.zip"


@pytest.mark.parametrize("settings_overrides", [{"max_upload_bytes": 300_000}])
def test_the_page_upload_has_the_maximum_size_too(seller: TestClient, sale: dict[str, Any]) -> None:
    url = "/admin/products/pixel-forge/file?filename=new.zip"
    token = csrf_of(seller, "/admin/products/pixel-forge")
    refused = seller.put(url, content=b"x" * 300_001, headers={"X-CSRF-Token": token})
    assert refused.status_code == 413
    assert refused.json()["code"] == "PAYLOAD_TOO_LARGE"
