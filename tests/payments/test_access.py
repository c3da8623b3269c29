"""Access links (COURSE, MEMBERSHIP, SUBSCRIPTION) and resending the delivery e-mail."""

from __future__ import annotations

import re
import time

from fastapi.testclient import TestClient

from shipkey.db.engine import Database
from tests.factories import create_product, create_purchase, upload
from tests.payments.helpers import mails, only_purchase, subscription_product
from tests.payments.stripe_objects import (
    checkout_session,
    deliver,
    dispute,
    event,
    new_id,
    subscription,
)

ACCESS = re.compile(r"http://testserver/access/([A-Za-z0-9_-]{43})")
DOWNLOAD = re.compile(r"http://testserver/api/download/([A-Za-z0-9_-]{43})")


def _course(admin: TestClient, **meta: object) -> None:
    create_product(
        admin,
        name="Shipping Academy",
        slug="academy",
        type="COURSE",
        price=9900,
        metadata={"courseSlug": "shipping-academy", **meta},
    )


def _access_token(db: Database) -> str:
    [message] = mails(db, "delivery")
    found = ACCESS.search(message.text_body)
    assert found is not None, message.text_body
    assert found.group(0) in message.html_body
    return found.group(1)


def test_an_access_link_leads_to_the_sellers_content(
    admin: TestClient, client: TestClient, db: Database
) -> None:
    _course(admin, accessUrl="https://learn.example.com/academy?lang=en")
    create_purchase(admin, "academy")
    token = _access_token(db)
    opened = client.get(f"/access/{token}", follow_redirects=False)
    assert opened.status_code == 303
    assert opened.headers["location"] == (
        f"https://learn.example.com/academy?lang=en&access={token}"
    )
    checked = client.get(f"/api/access/{token}").json()
    assert checked["valid"] is True
    assert checked["code"] == "VALID"
    assert checked["kind"] == "COURSE"
    assert checked["courseSlug"] == "shipping-academy"
    assert checked["product"] == "academy"
    assert checked["expiresAt"] is None
    assert opened.headers["referrer-policy"] == "no-referrer"


def test_only_the_seller_learns_who_holds_an_access_token(
    admin: TestClient, client: TestClient, db: Database
) -> None:
    _course(admin, accessUrl="https://learn.example.com/academy")
    purchase = create_purchase(admin, "academy")
    token = _access_token(db)
    public = client.get(f"/api/access/{token}")
    assert public.status_code == 200
    assert public.json()["valid"] is True
    assert "email" not in public.json()
    assert "purchaseId" not in public.json()
    seller = admin.get(f"/api/access/{token}").json()
    assert seller["email"] == "buyer@example.com"
    assert seller["purchaseId"] == purchase["id"]
    wrong = client.get(f"/api/access/{token}", headers={"Authorization": "Bearer nope"})
    assert wrong.status_code == 401
    assert wrong.json()["code"] == "UNAUTHORIZED"


def test_without_a_content_url_the_link_shows_a_page(
    admin: TestClient, client: TestClient, db: Database
) -> None:
    _course(admin)
    create_purchase(admin, "academy")
    page = client.get(f"/access/{_access_token(db)}")
    assert page.status_code == 200
    assert page.headers["referrer-policy"] == "no-referrer"
    assert "Shipping Academy" in page.text
    assert "shipping-academy" in page.text


def test_refund_and_dispute_stop_access(
    admin: TestClient, client: TestClient, db: Database
) -> None:
    _course(admin, accessUrl="https://learn.example.com/")
    deliver(client, event("checkout.session.completed", checkout_session(product="academy")))
    bought = only_purchase(db)
    token = _access_token(db)
    intent = bought.stripe_payment_intent_id
    assert intent is not None
    deliver(client, event("charge.dispute.created", dispute(intent)))
    assert client.get(f"/api/access/{token}").json()["code"] == "SUSPENDED"
    page = client.get(f"/access/{token}", follow_redirects=False)
    assert page.status_code == 403
    assert "This access is paused while a payment question is settled." in page.text
    german = client.get(f"/access/{token}", headers={"Accept-Language": "de"})
    assert "Gesperrt" in german.text
    assert "Dieser Zugang ruht" in german.text
    refunded = admin.post(f"/api/admin/purchases/{bought.id}/refund").json()
    checked = client.get(f"/api/access/{token}").json()
    assert (checked["valid"], checked["code"]) == (False, "REVOKED")
    [grant] = refunded["access"]
    assert grant["kind"] == "COURSE"
    assert grant["revokedAt"] is not None


def test_a_cancelled_subscription_expires_access(
    admin: TestClient, client: TestClient, db: Database
) -> None:
    subscription_product(admin)
    sub_id = new_id("sub")
    deliver(
        client,
        event(
            "checkout.session.completed", checkout_session(product="forge-pro", subscription=sub_id)
        ),
    )
    token = _access_token(db)
    assert client.get(f"/api/access/{token}").json()["kind"] == "SUBSCRIPTION"
    ended = int(time.time()) - 5
    deliver(client, event("customer.subscription.deleted", subscription(sub_id, ended_at=ended)))
    assert client.get(f"/api/access/{token}").json()["code"] == "EXPIRED"


def test_unknown_access_tokens(client: TestClient) -> None:
    for token in ("x" * 43, "short", "a" * 500):
        response = client.get(f"/api/access/{token}")
        assert response.status_code == 404
        assert response.json()["code"] == "ACCESS_NOT_FOUND"


def test_resend_writes_the_delivery_again_with_a_fresh_link(
    admin: TestClient, client: TestClient, db: Database
) -> None:
    product = create_product(
        admin,
        name="Pixel Forge",
        slug="pixel-forge",
        type="MEMBERSHIP",
        licenseType="PERPETUAL",
    )
    upload(admin, product["slug"], b"bytes" * 100)
    bought = create_purchase(admin, "pixel-forge")
    response = admin.post(f"/api/admin/purchases/{bought['id']}/resend")
    assert response.status_code == 202, response.text
    assert response.json()["kind"] == "delivery"
    assert response.json()["status"] == "PENDING"
    first, second = mails(db, "delivery")
    key = bought["licenses"][0]["key"]
    assert key in first.text_body
    assert key in second.text_body
    first_access, second_access = (ACCESS.search(m.text_body) for m in (first, second))
    assert first_access is not None
    assert second_access is not None
    assert first_access.group(0) == second_access.group(0)  # the same access link
    first_link, second_link = (DOWNLOAD.search(m.text_body) for m in (first, second))
    assert first_link is not None
    assert second_link is not None
    assert first_link.group(1) != second_link.group(1)  # a fresh download link
    assert client.get(f"/api/download/{second_link.group(1)}").status_code == 200


def test_resend_refuses_what_was_not_delivered(admin: TestClient, db: Database) -> None:
    create_product(admin)
    pending = create_purchase(admin, "test-book", status="PENDING")
    response = admin.post(f"/api/admin/purchases/{pending['id']}/resend")
    assert response.status_code == 409
    assert response.json()["code"] == "PURCHASE_NOT_COMPLETED"
    assert admin.post("/api/admin/purchases/pur_nope/resend").status_code == 404
    assert mails(db) == []
