"""``POST /api/checkout`` against a fake of Stripe's API, and the success page."""

from __future__ import annotations

from fastapi.testclient import TestClient

from shipkey.app import create_app
from shipkey.config import Settings
from shipkey.db.engine import Database
from shipkey.orders.models import Purchase
from shipkey.storage import Storage
from tests.factories import create_product
from tests.payments.fake_stripe import FakeStripe
from tests.payments.helpers import count, mails, purchase, software, subscription_product
from tests.payments.stripe_objects import deliver, event


def test_checkout_makes_a_pending_purchase_and_a_session(
    admin: TestClient, client: TestClient, db: Database, fake_stripe: FakeStripe
) -> None:
    software(admin, description="Pixel art, forged.")
    response = client.post("/api/checkout", json={"product": "pixel-forge", "locale": "de"})
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["url"].startswith("https://checkout.stripe.com/")
    pending = purchase(db, body["purchaseId"])
    assert pending.status.value == "PENDING"
    assert pending.email is None
    assert pending.locale == "de"
    assert pending.source == "stripe"
    assert pending.stripe_checkout_session_id == body["sessionId"]

    [params] = fake_stripe.created()
    assert params["mode"] == "payment"
    assert params["client_reference_id"] == pending.id
    assert params["metadata"] == {"purchaseId": pending.id, "product": "pixel-forge"}
    assert params["payment_intent_data"]["metadata"]["purchaseId"] == pending.id
    assert params["locale"] == "de"
    [line] = params["line_items"]
    assert line["price_data"]["unit_amount"] == "1900"
    assert line["price_data"]["currency"] == "eur"
    assert line["price_data"]["product_data"]["name"] == "Pixel Forge"
    assert params["success_url"] == (
        "http://testserver/checkout/success?session_id={CHECKOUT_SESSION_ID}"
    )
    assert "customer_email" not in params


def test_subscription_products_check_out_in_subscription_mode(
    admin: TestClient, client: TestClient, fake_stripe: FakeStripe
) -> None:
    subscription_product(admin, metadata={"interval": "year"})
    response = client.post(
        "/api/checkout", json={"product": "forge-pro", "email": "ada@example.com"}
    )
    assert response.status_code == 200, response.text
    [params] = fake_stripe.created()
    assert params["mode"] == "subscription"
    assert params["line_items"][0]["price_data"]["recurring"] == {"interval": "year"}
    assert params["subscription_data"]["metadata"]["purchaseId"] == response.json()["purchaseId"]
    assert params["customer_email"] == "ada@example.com"
    assert params["locale"] == "auto"


def test_a_stripe_price_is_used_when_the_product_names_one(
    admin: TestClient, client: TestClient, fake_stripe: FakeStripe
) -> None:
    create_product(admin, price=500, metadata={"stripePriceId": "price_123"})
    assert client.post("/api/checkout", json={"product": "test-book"}).status_code == 200
    [params] = fake_stripe.created()
    assert params["line_items"] == [{"price": "price_123", "quantity": "1"}]


def test_checkout_errors(
    admin: TestClient, client: TestClient, db: Database, fake_stripe: FakeStripe
) -> None:
    unknown = client.post("/api/checkout", json={"product": "nope"})
    assert unknown.status_code == 404
    bad = client.post("/api/checkout", json={"product": "x", "email": "not an address"})
    assert bad.status_code == 422
    assert bad.json()["code"] == "VALIDATION_ERROR"
    software(admin)
    fake_stripe.failures = [500, 500, 500]
    failed = client.post("/api/checkout", json={"product": "pixel-forge"})
    assert failed.status_code == 502
    assert failed.json()["code"] == "PAYMENT_PROVIDER_ERROR"
    assert count(db, Purchase) == 0  # no purchase without a session
    # The client retried, each time with the same idempotency key.
    [key] = set(fake_stripe.idempotency_keys)
    assert key is not None
    assert len(fake_stripe.idempotency_keys) == 3


def test_a_retried_session_request_makes_one_session(
    admin: TestClient, client: TestClient, db: Database, fake_stripe: FakeStripe
) -> None:
    software(admin)
    fake_stripe.failures = [503]
    response = client.post("/api/checkout", json={"product": "pixel-forge"})
    assert response.status_code == 200, response.text
    assert len(fake_stripe.sessions) == 1
    assert count(db, Purchase) == 1


def test_checkout_without_stripe_keys_is_refused(
    settings: Settings, db: Database, storage: Storage, admin: TestClient
) -> None:
    software(admin)
    app = create_app(
        settings.model_copy(update={"stripe_secret_key": None}), db=db, storage=storage
    )
    with TestClient(app) as client:
        response = client.post("/api/checkout", json={"product": "pixel-forge"})
    assert response.status_code == 503
    assert response.json()["code"] == "PAYMENTS_NOT_CONFIGURED"


def test_the_success_page_delivers_once_and_the_webhook_finds_it_done(
    admin: TestClient, client: TestClient, db: Database, fake_stripe: FakeStripe
) -> None:
    software(admin)
    started = client.post("/api/checkout", json={"product": "pixel-forge"}).json()
    paid = fake_stripe.pay(started["sessionId"], email="Ada@Example.com", locale="de")

    page = client.get("/checkout/success", params={"session_id": started["sessionId"]})
    assert page.status_code == 200
    assert "Vielen Dank für Ihren Kauf" in page.text  # the buyer checked out in German
    assert '<html lang="de">' in page.text
    assert "ada@example.com" in page.text
    done = purchase(db, started["purchaseId"])
    assert done.status.value == "COMPLETED"
    assert done.email == "ada@example.com"
    assert done.locale == "de"
    license_key = admin.get(f"/api/admin/purchases/{done.id}").json()["licenses"][0]["key"]
    assert license_key in page.text

    again = client.get("/checkout/success", params={"session_id": started["sessionId"]})
    assert again.status_code == 200
    result = deliver(client, event("checkout.session.completed", paid))
    assert result["status"] == "PROCESSED"
    assert len(mails(db, "delivery")) == 1
    assert mails(db, "delivery")[0].to_address == "ada@example.com"


def test_the_success_page_while_payment_is_pending(
    admin: TestClient, client: TestClient, db: Database, fake_stripe: FakeStripe
) -> None:
    software(admin)
    started = client.post("/api/checkout", json={"product": "pixel-forge"}).json()
    fake_stripe.pay(started["sessionId"], payment_status="unpaid")
    page = client.get("/checkout/success", params={"session_id": started["sessionId"]})
    assert page.status_code == 200
    assert "Almost there" in page.text
    # No reload that makes screen readers start over: a quiet check, and a link to ask by hand.
    assert 'http-equiv="refresh"' not in page.text
    assert 'data-order-state="processing" aria-live="polite"' in page.text
    assert '<script src="/static/checkout-status.js" defer></script>' in page.text
    again = f'href="/checkout/success?session_id={started["sessionId"]}">Check again</a>'
    assert again in page.text
    assert purchase(db, started["purchaseId"]).status.value == "PENDING"
    assert mails(db) == []


def test_the_success_page_for_unknown_sessions(client: TestClient) -> None:
    assert client.get("/checkout/success", params={"session_id": "cs_test_nope"}).status_code == (
        404
    )
    assert client.get("/checkout/success", params={"session_id": "../etc"}).status_code == 404
    assert client.get("/checkout/success").status_code == 422


def test_the_success_page_speaks_the_browser_s_language_before_the_checkout_s(
    admin: TestClient, client: TestClient, fake_stripe: FakeStripe
) -> None:
    software(admin)

    def success_page(language: str, **payment: str) -> str:
        started = client.post("/api/checkout", json={"product": "pixel-forge"}).json()
        fake_stripe.pay(started["sessionId"], **payment)
        page = client.get(
            "/checkout/success",
            params={"session_id": started["sessionId"]},
            headers={"Accept-Language": language},
        )
        return page.text

    paid_in_german = success_page("en-GB,en;q=0.9", locale="de")
    assert "Thank you for your purchase" in paid_in_german
    assert '<html lang="en">' in paid_in_german
    pending = success_page("de-AT", payment_status="unpaid")
    assert "Fast geschafft" in pending
    assert "SEPA-Lastschrift" in pending


def test_the_cancel_page(client: TestClient) -> None:
    page = client.get("/checkout/cancel", params={"purchase": "pur_x"})
    assert page.status_code == 200
    assert "Nothing was charged" in page.text
    german = client.get("/checkout/cancel", headers={"Accept-Language": "de"})
    assert "Bezahlung abgebrochen" in german.text
    assert "Es wurde nichts berechnet" in german.text
