"""The license pages and their buttons."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient

from tests.factories import create_purchase
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


def test_a_whole_address_finds_that_buyers_licenses(
    seller: TestClient, admin: TestClient, sale: dict[str, Any]
) -> None:
    other = create_purchase(admin, "pixel-forge", email="lovelace.ada@example.com")
    ours, theirs = sale["licenses"][0]["key"], other["licenses"][0]["key"]
    whole = seller.get("/admin/licenses", params={"q": "ADA@example.com"}).text
    assert ours in whole
    assert theirs not in whole
    assert "A whole address finds that buyer" in whole
    part = seller.get("/admin/licenses", params={"q": "ada@example"}).text
    assert ours in part
    assert theirs in part
