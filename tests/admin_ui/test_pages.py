"""The seller's pages: sign-in (admin token or a link to SHIPKEY_ADMIN_EMAIL), the dashboard,
products, purchase and license actions, deliveries, webhooks and the dev mailbox."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select, update

from shipkey.admin import service as tokens
from shipkey.app import create_app
from shipkey.clock import utcnow
from shipkey.config import Settings
from shipkey.db.engine import Database
from shipkey.mail import service as mail
from shipkey.mail.models import MailMessage, MailStatus
from shipkey.mail.senders import MailboxSender, Outgoing, build_email, mailbox_dir
from shipkey.orders.models import Purchase
from shipkey.storage import Storage
from tests.admin_ui.helpers import admin_sign_in
from tests.factories import create_purchase, product_with_file
from tests.mail.helpers import count_messages
from tests.portal.helpers import csrf, csrf_of, last_login_token, sign_in


@pytest.fixture
def sale(admin: TestClient) -> dict[str, Any]:
    product, _data = product_with_file(
        admin, name="Pixel Forge", slug="pixel-forge", type="LICENSE", maxDownloads=2
    )
    return create_purchase(admin, product["slug"], email="ada@example.com", amount=4900)


@pytest.fixture
def seller(client: TestClient) -> TestClient:
    admin_sign_in(client)
    return client


def _purchase(db: Database, purchase_id: str) -> Purchase:
    with db.read_session() as session:
        purchase = session.get(Purchase, purchase_id)
        assert purchase is not None
        return purchase


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
    assert _purchase(db, sale["id"]).status.value == "COMPLETED"


def test_a_wrong_admin_token_is_refused(client: TestClient) -> None:
    token = csrf_of(client, "/admin/login")
    response = client.post("/admin/login", data={"token": "sk_admin_nope", "csrf_token": token})
    assert response.status_code == 401
    assert "not valid" in response.text


def test_a_created_admin_token_signs_in(client: TestClient, db: Database) -> None:
    with db.session() as session:
        _row, raw = tokens.create_token(session, "laptop")
    admin_sign_in(client, raw)
    assert client.get("/admin").status_code == 200


def test_a_sign_in_link_goes_only_to_the_admin_address(
    settings: Settings, db: Database, storage: Storage
) -> None:
    configured = settings.model_copy(update={"admin_email": "Seller@Example.com"})
    with TestClient(create_app(configured, db=db, storage=storage)) as client:
        for address in ["someone@example.com", "seller@example.com"]:
            page = client.post(
                "/admin/login/email",
                data={"email": address, "csrf_token": csrf_of(client, "/admin/login")},
            )
            assert page.status_code == 200
            assert "Check your inbox" in page.text
        with db.read_session() as session:
            sent = session.scalars(select(MailMessage.to_address)).all()
        assert sent == ["seller@example.com"]
        link = last_login_token(db, "seller@example.com")
        confirm = client.get(f"/login/{link}")
        used = client.post(
            f"/login/{link}", data={"csrf_token": csrf(confirm.text)}, follow_redirects=False
        )
        assert used.headers["location"] == "/admin"
        assert client.get("/admin").status_code == 200
        assert client.get("/purchases", follow_redirects=False).status_code == 303


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


def test_the_dashboard_counts_sales_and_draws_charts(
    seller: TestClient, admin: TestClient, sale: dict[str, Any]
) -> None:
    create_purchase(admin, "pixel-forge", email="grace@example.com", amount=1000)
    page = seller.get("/admin").text
    assert page.count('role="img"') == 4
    assert "Sales per day" in page
    assert "€59.00" in page
    assert '<td class="num">2</td>' in page


def test_search_purchases_by_email(
    seller: TestClient, admin: TestClient, sale: dict[str, Any]
) -> None:
    create_purchase(admin, "pixel-forge", email="grace@example.com")
    found = seller.get("/admin/purchases", params={"q": "GRACE"}).text
    assert "grace@example.com" in found
    assert "ada@example.com" not in found
    assert "No purchases found" in seller.get("/admin/purchases", params={"q": "%"}).text


def test_purchase_actions(seller: TestClient, db: Database, sale: dict[str, Any]) -> None:
    base = f"/admin/purchases/{sale['id']}"
    token = csrf_of(seller, base)
    with db.session() as session:
        session.execute(update(Purchase).where(Purchase.id == sale["id"]).values(download_count=2))

    assert (
        "The download count was reset."
        in seller.post(f"{base}/reset-downloads", data={"csrf_token": token}).text
    )
    assert _purchase(db, sale["id"]).download_count == 0

    added = seller.post(f"{base}/add-downloads", data={"csrf_token": token, "count": "3"})
    assert "Downloads added." in added.text
    assert _purchase(db, sale["id"]).max_downloads == 5
    bad = seller.post(f"{base}/add-downloads", data={"csrf_token": token, "count": "0"})
    assert "Add between 1 and 1000 downloads." in bad.text

    link = seller.post(f"{base}/download-link", data={"csrf_token": token})
    assert "http://testserver/api/download/" in link.text

    before = count_messages(db, "delivery")
    resent = seller.post(f"{base}/resend", data={"csrf_token": token})
    assert "The delivery e-mail was queued again." in resent.text
    assert count_messages(db, "delivery") == before + 1
    with db.read_session() as session:
        message = session.scalars(
            select(MailMessage)
            .where(MailMessage.kind == "delivery")
            .order_by(MailMessage.created_at.desc())
        ).first()
        assert message is not None
    assert "http://testserver/api/download/" in message.text_body
    assert sale["licenses"][0]["key"] in message.text_body

    refunded = seller.post(f"{base}/refund", data={"csrf_token": token})
    assert "Refunded: links ended and licenses revoked." in refunded.text
    assert 'data-license-status="REVOKED"' in refunded.text
    again = seller.post(f"{base}/resend", data={"csrf_token": token})
    assert "has not been delivered" in again.text
    assert seller.post(f"{base}/nonsense", data={"csrf_token": token}).status_code == 404


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


def test_failed_deliveries_show_their_error_and_can_be_retried(
    seller: TestClient, db: Database, settings: Settings, sale: dict[str, Any]
) -> None:
    with db.session() as session:
        message = mail.queue_login(session, settings, "x@example.com", "en", "http://t/login/x")
        mail.mark_failed(session, message.id, "550 5.1.1 No such user here")
    page = seller.get("/admin/deliveries?status=FAILED").text
    assert "550 5.1.1 No such user here" in page
    retried = seller.post(f"/admin/deliveries/{message.id}/retry", data={"csrf_token": csrf(page)})
    assert "The e-mail will be sent again." in retried.text
    with db.read_session() as session:
        assert session.get(MailMessage, message.id).status is MailStatus.PENDING  # type: ignore[union-attr]


def test_the_dev_mailbox(seller: TestClient, settings: Settings) -> None:
    outgoing = Outgoing(
        "msg_1", "ada@example.com", "Hello <there>", "Plain body", "<p>HTML body</p>", utcnow()
    )
    MailboxSender(mailbox_dir(settings)).send(build_email(outgoing, settings))
    listing = seller.get("/admin/mailbox").text
    assert "Hello &lt;there&gt;" in listing
    name = listing.split('href="/admin/mailbox/')[1].split('"')[0]
    shown = seller.get(f"/admin/mailbox/{name}").text
    assert "Plain body" in shown
    assert 'sandbox srcdoc="&lt;p&gt;HTML body&lt;/p&gt;' in shown


def test_the_webhook_page_without_a_log(seller: TestClient) -> None:
    page = seller.get("/admin/webhooks").text
    assert "Webhook events" in page


def test_create_and_edit_a_product(seller: TestClient, admin: TestClient) -> None:
    token = csrf_of(seller, "/admin/products")
    bad = seller.post(
        "/admin/products", data={"csrf_token": token, "name": "X", "slug": "Not A Slug"}
    )
    assert bad.status_code == 422
    assert "slug" in bad.text
    created = seller.post(
        "/admin/products",
        data={
            "csrf_token": token,
            "name": "Rust Book",
            "slug": "rust-book",
            "type": "DOWNLOAD",
            "price": "19,90",
            "currency": "eur",
            "max_downloads": "4",
            "license_type": "",
        },
    )
    assert created.status_code == 200
    assert "The product was created." in created.text
    product = admin.get("/api/admin/products/rust-book").json()
    assert (product["price"], product["currency"], product["maxDownloads"]) == (1990, "EUR", 4)

    edited = seller.post(
        f"/admin/products/{product['id']}",
        data={
            "csrf_token": token,
            "name": "Rust Book 2e",
            "slug": "rust-book",
            "type": "DOWNLOAD",
            "price": "24",
            "currency": "EUR",
            "max_downloads": "4",
            "link_ttl_hours": "48",
            "active": "on",
        },
    )
    assert "Saved." in edited.text
    product = admin.get("/api/admin/products/rust-book").json()
    assert (product["name"], product["price"], product["linkTtlHours"]) == (
        "Rust Book 2e",
        2400,
        48,
    )


def test_uploads_need_the_csrf_header(seller: TestClient, sale: dict[str, Any]) -> None:
    url = "/admin/products/pixel-forge/file?filename=new.zip"
    assert seller.put(url, content=b"data").status_code == 403
    token = csrf_of(seller, "/admin/products/pixel-forge")
    done = seller.put(url, content=b"data", headers={"X-CSRF-Token": token})
    assert done.status_code == 200
    assert done.json()["fileName"] == "new.zip"


def test_forms_without_a_valid_csrf_token_are_refused(
    seller: TestClient, db: Database, sale: dict[str, Any]
) -> None:
    response = seller.post(f"/admin/purchases/{sale['id']}/refund", data={"csrf_token": "x"})
    assert response.status_code == 403
    assert _purchase(db, sale["id"]).status.value == "COMPLETED"


def test_wrong_admin_tokens_are_rate_limited(
    settings: Settings, db: Database, storage: Storage
) -> None:
    limited = settings.model_copy(update={"rate_limits": "on"})
    with TestClient(create_app(limited, db=db, storage=storage)) as client:
        token = csrf_of(client, "/admin/login")
        statuses = [
            client.post("/admin/login", data={"token": "wrong", "csrf_token": token}).status_code
            for _ in range(11)
        ]
    assert statuses == [401] * 10 + [429]


@pytest.mark.parametrize("count", ["9" * 5000, "²", "-1", "abc"])
def test_odd_download_counts_are_refused(
    seller: TestClient, db: Database, sale: dict[str, Any], count: str
) -> None:
    base = f"/admin/purchases/{sale['id']}"
    response = seller.post(
        f"{base}/add-downloads", data={"csrf_token": csrf_of(seller, base), "count": count}
    )
    assert response.status_code == 200
    assert "Add between 1 and 1000 downloads." in response.text
    assert _purchase(db, sale["id"]).max_downloads == 2
