"""The pages after checkout look like the rest of shipkey (the portal's stylesheet and layout),
and ask buyers to write only to a support address that is set."""

from __future__ import annotations

from fastapi.testclient import TestClient

from shipkey.app import create_app
from shipkey.config import Settings
from shipkey.db.engine import Database
from shipkey.storage import Storage
from tests.payments.fake_stripe import FakeStripe
from tests.payments.helpers import software


def _layout(page: str) -> None:
    assert '<link rel="stylesheet" href="/static/shipkey.css">' in page
    assert "<style>" not in page
    assert '<header class="top">' in page
    assert '<main id="content" class="narrow checkout"' in page
    assert page.count("· shipkey") == 1  # in the title, once


def test_the_checkout_pages_use_the_portal_s_layout(
    admin: TestClient, client: TestClient, fake_stripe: FakeStripe
) -> None:
    _layout(client.get("/checkout/cancel").text)
    software(admin)
    started = client.post("/api/checkout", json={"product": "pixel-forge"}).json()
    fake_stripe.pay(started["sessionId"])
    paid = client.get("/checkout/success", params={"session_id": started["sessionId"]}).text
    _layout(paid)
    assert '<span class="state paid">' in paid


def _pending_page(app_settings: Settings, db: Database, storage: Storage, fake: FakeStripe) -> str:
    with TestClient(create_app(app_settings, db=db, storage=storage)) as client:
        started = client.post("/api/checkout", json={"product": "pixel-forge"}).json()
        fake.pay(started["sessionId"], payment_status="unpaid")
        return client.get("/checkout/success", params={"session_id": started["sessionId"]}).text


def test_the_support_sentence_names_the_support_address_or_is_left_out(
    settings: Settings, db: Database, storage: Storage, admin: TestClient, fake_stripe: FakeStripe
) -> None:
    software(admin)
    own = settings.model_copy(update={"support_email": "help@shop.example"})
    page = _pending_page(own, db, storage, fake_stripe)
    assert 'Questions? Write to <a href="mailto:help@shop.example">' in page
    assert "seller@example.com" not in page

    admin_only = _pending_page(settings, db, storage, fake_stripe)
    assert 'Questions? Write to <a href="mailto:seller@example.com">' in admin_only

    nobody = settings.model_copy(update={"admin_email": None})
    page = _pending_page(nobody, db, storage, fake_stripe)
    assert "Questions?" not in page
    assert "noreply" not in page
