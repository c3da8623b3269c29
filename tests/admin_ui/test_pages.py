"""What every seller page shares: it needs the seller, it renders, and its forms need the
session's CSRF token."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient

from shipkey.db.engine import Database
from tests.admin_ui.helpers import load_purchase
from tests.portal.helpers import csrf_of, sign_in


def test_pages_need_the_seller(client: TestClient, db: Database, sale: dict[str, Any]) -> None:
    for path in ["/admin", "/admin/purchases", f"/admin/purchases/{sale['id']}", "/admin/mailbox"]:
        response = client.get(path, follow_redirects=False)
        assert response.status_code == 303, path
        assert response.headers["location"].startswith("/admin/login?next=")
    sign_in(client, db, "ada@example.com")  # a buyer is not the seller
    assert client.get("/admin", follow_redirects=False).status_code == 303
    token = csrf_of(client, "/purchases")
    refund = client.post(
        f"/admin/purchases/{sale['id']}/refund", data={"csrf_token": token}, follow_redirects=False
    )
    assert refund.status_code == 303
    assert load_purchase(db, sale["id"]).status.value == "COMPLETED"


def test_every_page_renders(seller: TestClient, sale: dict[str, Any]) -> None:
    key = sale["licenses"][0]["key"]
    for path in [
        "/admin",
        "/admin/products",
        "/admin/products/pixel-forge",
        "/admin/purchases",
        f"/admin/purchases/{sale['id']}",
        "/admin/licenses",
        f"/admin/licenses/{key}",
        "/admin/deliveries",
        "/admin/deliveries?status=FAILED",
        "/admin/webhooks",
        "/admin/mailbox",
    ]:
        response = seller.get(path)
        assert response.status_code == 200, path
        assert 'name="csrf_token"' in response.text
    assert seller.get("/admin/purchases/pur_nothing").status_code == 404
    assert seller.get("/admin/licenses/NOPE-12345").status_code == 404
    assert seller.get("/admin/mailbox/../../secret_key").status_code == 404


def test_forms_without_a_valid_csrf_token_are_refused(
    seller: TestClient, db: Database, sale: dict[str, Any]
) -> None:
    response = seller.post(f"/admin/purchases/{sale['id']}/refund", data={"csrf_token": "x"})
    assert response.status_code == 403
    assert load_purchase(db, sale["id"]).status.value == "COMPLETED"
