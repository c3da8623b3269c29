"""Trust for buyers in the EU: the consent to immediate delivery (right of withdrawal), tax and
invoices through Stripe Checkout, and the seller's imprint; driven through the fake Stripe and
read from a real SMTP server in both languages."""

from __future__ import annotations

from email.message import EmailMessage
from typing import Any

import pytest
from fastapi.testclient import TestClient

from shipkey.config import Settings
from shipkey.db.engine import Database
from shipkey.jobs.worker import Worker
from shipkey.orders import consent
from shipkey.storage import Storage
from tests.conftest import ADMIN_TOKEN
from tests.jobs.helpers import Clock
from tests.mail.helpers import with_smtp
from tests.mail.smtp import SmtpTestServer
from tests.payments.fake_stripe import FakeStripe
from tests.payments.helpers import purchase, purchases, software, subscription_product
from tests.payments.stripe_objects import checkout_session, deliver, event
from tests.portal.helpers import sign_in

WAIVER = {"withdrawal_waiver": "on"}
TAX = {"stripe_automatic_tax": "on"}
IMPRINT = "Pixel Forge GmbH\nHauptstraße 1, 10115 Berlin"


def _parts(message: EmailMessage) -> tuple[str, str]:
    plain, html = message.get_body(("plain",)), message.get_body(("html",))
    assert plain is not None
    assert html is not None
    return str(plain.get_content()), str(html.get_content())


def _buy(
    client: TestClient, fake_stripe: FakeStripe, locale: str, **body: Any
) -> tuple[str, dict[str, Any]]:
    """Check out, pay, and let Stripe's event arrive: the purchase id and the session."""
    answer = client.post("/api/checkout", json={"product": "pixel-forge", "locale": locale, **body})
    assert answer.status_code == 200, answer.text
    created = answer.json()
    paid = fake_stripe.pay(created["sessionId"], email=f"{locale}@example.com")
    deliver(client, event("checkout.session.completed", paid))
    return created["purchaseId"], paid


def _sent(
    settings: Settings, db: Database, storage: Storage, smtp: SmtpTestServer
) -> list[EmailMessage]:
    Worker(with_smtp(settings, smtp.url()), db, storage, clock=Clock()).run_once()
    return smtp.recorder.messages()


@pytest.mark.parametrize("settings_overrides", [WAIVER])
def test_without_consent_checkout_is_refused(
    admin: TestClient, client: TestClient, fake_stripe: FakeStripe
) -> None:
    software(admin)
    for body in ({}, {"consent": False}):
        answer = client.post("/api/checkout", json={"product": "pixel-forge", **body})
        assert answer.status_code == 400
        assert answer.json()["code"] == "CONSENT_REQUIRED"
    assert fake_stripe.created() == []
    bad = client.post("/api/checkout", json={"product": "pixel-forge", "consent": "maybe"})
    assert bad.status_code == 422


@pytest.mark.parametrize("settings_overrides", [WAIVER])
@pytest.mark.parametrize("locale", ["de", "en"])
def test_consent_is_asked_recorded_confirmed_and_shown(
    admin: TestClient,
    client: TestClient,
    db: Database,
    settings: Settings,
    storage: Storage,
    smtp: SmtpTestServer,
    fake_stripe: FakeStripe,
    locale: str,
) -> None:
    software(admin)
    purchase_id, _paid = _buy(client, fake_stripe, locale, consent=True)
    [params] = fake_stripe.created()
    words = consent.TEXTS[locale]
    assert params["consent_collection"] == {"terms_of_service": "required"}
    assert params["custom_text"] == {"terms_of_service_acceptance": {"message": words}}

    shown = admin.get(f"/api/admin/purchases/{purchase_id}").json()
    assert shown["status"] == "COMPLETED"
    recorded = shown["consent"]
    assert recorded["text"] == words
    assert recorded["textVersion"] == consent.VERSION
    assert recorded["ipAddress"] == "testclient"
    assert recorded["acceptedAt"]
    assert purchase(db, purchase_id).consent_ip == "testclient"

    [mail] = _sent(settings, db, storage, smtp)
    text, html = _parts(mail)
    heading = {"de": "Ihr Widerrufsrecht", "en": "Your right of withdrawal"}[locale]
    for body in (text, html):
        assert heading in body
        assert "§ 356" in body
        assert "BGB" in body
    assert words in text
    assert words in html

    page = TestClient(client.app)
    sign_in(page, db, f"{locale}@example.com")
    mine = page.get(f"/purchases/{purchase_id}")
    assert words in mine.text
    assert "testclient" not in mine.text
    seller = _admin_page(client, f"/admin/purchases/{purchase_id}")
    assert words in seller.text
    assert "testclient" in seller.text


def _admin_page(client: TestClient, path: str) -> Any:
    browser = TestClient(client.app)
    login = browser.get("/admin/login").text
    marker = 'name="csrf_token" value="'
    start = login.index(marker) + len(marker)
    csrf = login[start : login.index('"', start)]
    browser.post("/admin/login", data={"csrf_token": csrf, "token": ADMIN_TOKEN})
    return browser.get(path)


@pytest.mark.parametrize("settings_overrides", [WAIVER])
def test_a_payment_links_consent_is_read_from_the_session(
    admin: TestClient, client: TestClient, db: Database
) -> None:
    software(admin)
    obj = checkout_session(product="pixel-forge", email="link@example.com")
    obj["consent"] = {"promotions": None, "terms_of_service": "accepted"}
    obj["custom_text"] = {"terms_of_service_acceptance": {"message": "Sofort liefern, ok."}}
    deliver(client, event("checkout.session.completed", obj))
    [linked] = [p for p in purchases(db) if p.email == "link@example.com"]
    purchase_id = linked.id
    shown = admin.get(f"/api/admin/purchases/{purchase_id}").json()
    assert shown["consent"]["text"] == "Sofort liefern, ok."
    assert shown["consent"]["textVersion"] == consent.STRIPE_VERSION
    assert shown["consent"]["ipAddress"] is None

    plain = checkout_session(product="pixel-forge", email="nobox@example.com")
    deliver(client, event("checkout.session.completed", plain))
    unticked = [p for p in purchases(db) if p.email == "nobox@example.com"]
    assert [p.consent for p in unticked] == [None]


@pytest.mark.parametrize("settings_overrides", [TAX])
def test_automatic_tax_asks_stripe_for_tax_ids_and_an_invoice_that_the_email_links(
    admin: TestClient,
    client: TestClient,
    db: Database,
    settings: Settings,
    storage: Storage,
    smtp: SmtpTestServer,
    fake_stripe: FakeStripe,
) -> None:
    software(admin)
    purchase_id, paid = _buy(client, fake_stripe, "de")
    [params] = fake_stripe.created()
    assert params["automatic_tax"] == {"enabled": "true"}
    assert params["tax_id_collection"] == {"enabled": "true"}
    assert params["invoice_creation"] == {"enabled": "true"}
    assert "consent_collection" not in params
    invoice_url = fake_stripe.invoices[paid["invoice"]]["hosted_invoice_url"]

    shown = admin.get(f"/api/admin/purchases/{purchase_id}").json()
    assert shown["invoiceUrl"] == invoice_url
    assert shown["consent"] is None
    [mail] = _sent(settings, db, storage, smtp)
    text, html = _parts(mail)
    assert "Ihre Rechnung" in text
    assert invoice_url in text
    assert invoice_url in html
    page = TestClient(client.app)
    sign_in(page, db, "de@example.com")
    assert invoice_url in page.get(f"/purchases/{purchase_id}").text


@pytest.mark.parametrize("settings_overrides", [TAX])
def test_the_success_page_brings_the_invoice_too(
    admin: TestClient, client: TestClient, db: Database, fake_stripe: FakeStripe
) -> None:
    software(admin)
    created = client.post("/api/checkout", json={"product": "pixel-forge"}).json()
    paid = fake_stripe.pay(created["sessionId"], email="ada@example.com")
    assert client.get(f"/checkout/success?session_id={created['sessionId']}").status_code == 200
    expected = fake_stripe.invoices[paid["invoice"]]["hosted_invoice_url"]
    assert purchase(db, created["purchaseId"]).invoice_url == expected


@pytest.mark.parametrize("settings_overrides", [TAX])
def test_subscriptions_get_tax_without_invoice_creation(
    admin: TestClient, client: TestClient, fake_stripe: FakeStripe
) -> None:
    subscription_product(admin)
    assert client.post("/api/checkout", json={"product": "forge-pro"}).status_code == 200
    [params] = fake_stripe.created()
    assert params["automatic_tax"] == {"enabled": "true"}
    assert "invoice_creation" not in params


def test_without_the_settings_checkout_asks_for_nothing_more(
    admin: TestClient, client: TestClient, fake_stripe: FakeStripe
) -> None:
    software(admin)
    assert client.post("/api/checkout", json={"product": "pixel-forge"}).status_code == 200
    [params] = fake_stripe.created()
    for name in ("consent_collection", "custom_text", "automatic_tax", "invoice_creation"):
        assert name not in params


@pytest.mark.parametrize("settings_overrides", [{"seller_imprint": IMPRINT}])
@pytest.mark.parametrize("locale", ["de", "en"])
def test_the_imprint_is_in_every_email_and_page_footer(
    admin: TestClient,
    client: TestClient,
    db: Database,
    settings: Settings,
    storage: Storage,
    smtp: SmtpTestServer,
    fake_stripe: FakeStripe,
    locale: str,
) -> None:
    software(admin)
    _buy(client, fake_stripe, locale)
    [mail] = _sent(settings, db, storage, smtp)
    text, html = _parts(mail)
    assert IMPRINT.replace("\n", "\r\n") in text
    assert "Pixel Forge GmbH" in html
    assert "Hauptstraße 1, 10115 Berlin" in html
    for path in ("/login", "/admin/login", "/checkout/cancel"):
        page = client.get(path)
        assert page.status_code == 200
        assert 'class="imprint"' in page.text, path
        assert "Hauptstraße 1, 10115 Berlin" in page.text, path
