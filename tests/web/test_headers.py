"""Every HTML page refuses to be framed, is not sniffed as anything else and sends no more of its
address than needed: pages with a token in their address send none."""

from __future__ import annotations

import re

import pytest
from fastapi.testclient import TestClient
from httpx2 import Response

from shipkey.db.engine import Database
from tests.admin_ui.helpers import admin_sign_in
from tests.factories import create_product, create_purchase
from tests.payments.helpers import mails
from tests.portal.helpers import csrf, csrf_of, last_login_token, sign_in

ACCESS = re.compile(r"http://testserver/access/([A-Za-z0-9_-]{43})")


def _protected(response: Response, referrer: str = "same-origin") -> None:
    assert response.headers["content-type"].startswith("text/html"), response.text
    frames = response.headers.get("x-frame-options", "").upper() == "DENY" or (
        "frame-ancestors 'none'" in response.headers.get("content-security-policy", "")
    )
    assert frames, response.headers
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.headers["referrer-policy"] == referrer


@pytest.fixture
def purchase_id(admin: TestClient) -> str:
    product = create_product(admin, name="Book", slug="book")
    found: str = create_purchase(admin, product["slug"], email="ada@example.com")["id"]
    return found


def test_portal_pages(client: TestClient, db: Database, purchase_id: str) -> None:
    _protected(client.get("/login"))
    sign_in(client, db, "ada@example.com")
    _protected(client.get("/purchases"))
    _protected(client.get(f"/purchases/{purchase_id}"))


def test_admin_pages(client: TestClient) -> None:
    _protected(client.get("/admin/login"))
    admin_sign_in(client)
    _protected(client.get("/admin"))
    _protected(client.get("/admin/purchases"))


def test_error_pages(client: TestClient, db: Database, purchase_id: str) -> None:
    _protected(client.post("/login", data={"email": "ada@example.com"}), "same-origin")  # 403
    sign_in(client, db, "ada@example.com")
    missing = client.get("/purchases/pur_nothing")
    assert missing.status_code == 404
    _protected(missing)


def test_pages_after_checkout(client: TestClient) -> None:
    _protected(client.get("/checkout/cancel"))


def test_sign_in_links_send_no_referrer(client: TestClient, db: Database, purchase_id: str) -> None:
    client.post(
        "/login", data={"email": "ada@example.com", "csrf_token": csrf_of(client, "/login")}
    )
    token = last_login_token(db, "ada@example.com")
    confirm = client.get(f"/login/{token}")
    _protected(confirm, "no-referrer")
    used = client.post(f"/login/{token}", data={"csrf_token": csrf(confirm.text)})
    assert used.url.path == "/purchases"
    _protected(client.get(f"/login/{token}"), "no-referrer")  # used: 410


def test_access_links_send_no_referrer(admin: TestClient, client: TestClient, db: Database) -> None:
    create_product(
        admin,
        name="Shipping Academy",
        slug="academy",
        type="COURSE",
        price=9900,
        metadata={"courseSlug": "shipping-academy"},
    )
    create_purchase(admin, "academy")
    [message] = mails(db, "delivery")
    found = ACCESS.search(message.text_body)
    assert found is not None
    page = client.get(f"/access/{found.group(1)}")
    assert page.status_code == 200
    _protected(page, "no-referrer")


@pytest.mark.parametrize("path", ["/docs", "/redoc"])
def test_the_api_documentation_pages(client: TestClient, path: str) -> None:
    _protected(client.get(path))
