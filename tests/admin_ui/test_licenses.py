"""The license pages and their buttons."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient

from tests.portal.helpers import csrf


def test_license_actions(seller: TestClient, admin: TestClient, sale: dict[str, Any]) -> None:
    key = sale["licenses"][0]["key"]
    admin.post("/api/licenses/activate", json={"licenseKey": key, "machineId": "m-1"})
    page = seller.get(f"/admin/licenses/{key}")
    token = csrf(page.text)
    license_id = page.text.split('action="/admin/licenses/')[1].split("/")[0]
    base = f"/admin/licenses/{license_id}"

    def status() -> str:
        return str(admin.post("/api/licenses/validate", json={"licenseKey": key}).json()["code"])

    seller.post(f"{base}/suspend", data={"csrf_token": token})
    assert status() == "SUSPENDED"
    seller.post(f"{base}/reinstate", data={"csrf_token": token})
    assert status() == "VALID"
    reset = seller.post(f"{base}/reset-activations", data={"csrf_token": token})
    assert "0/3" in reset.text
    seller.post(f"{base}/revoke", data={"csrf_token": token})
    assert status() == "REVOKED"
    refused = seller.post(f"{base}/reinstate", data={"csrf_token": token})
    assert "A REVOKED license cannot be reinstated." in refused.text
    assert key in seller.get("/admin/licenses", params={"q": "ada@"}).text
