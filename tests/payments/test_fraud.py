"""Stripe's fraud signals: an early fraud warning suspends the goods at once (and refunds the
payment when SHIPKEY_REFUND_ON_FRAUD_WARNING=on); a dispute gets the evidence attached."""

from __future__ import annotations

from fastapi.testclient import TestClient

from shipkey.config import Settings
from shipkey.db.engine import Database
from shipkey.jobs.worker import Worker
from shipkey.storage import Storage
from tests.payments.fake_stripe import FakeStripe
from tests.payments.helpers import admin_purchase, mails, only_purchase, software
from tests.payments.stripe_objects import (
    checkout_session,
    deliver,
    dispute,
    early_fraud_warning,
    event,
    new_id,
)


def _sell(client: TestClient) -> tuple[str, str]:
    intent = new_id("pi")
    obj = checkout_session(product="pixel-forge", payment_intent=intent)
    assert deliver(client, event("checkout.session.completed", obj))["status"] == "PROCESSED"
    db: Database = client.app.state.db  # type: ignore[attr-defined]
    return only_purchase(db).id, intent


def test_a_fraud_warning_suspends_the_goods_at_once(
    admin: TestClient, client: TestClient, db: Database, worker: Worker, fake_stripe: FakeStripe
) -> None:
    software(admin)
    purchase_id, intent = _sell(client)
    token = admin.post(f"/api/admin/purchases/{purchase_id}/download-links").json()["token"]
    warning = early_fraud_warning(intent)
    payload = event("radar.early_fraud_warning.created", warning)
    assert deliver(client, payload)["status"] == "PROCESSED"
    deliver(client, payload)  # Stripe sends it again: it takes effect once

    record = admin_purchase(admin, purchase_id)
    assert [lic["status"] for lic in record["licenses"]] == ["SUSPENDED"]
    stopped = client.get(f"/api/download/{token}")
    assert stopped.status_code == 403
    assert stopped.json()["code"] == "UNDER_REVIEW"
    [flagged] = admin.get("/api/admin/risk-events").json()["items"]
    assert flagged["kind"] == "FRAUD_WARNING"
    assert flagged["details"]["warning"] == warning["id"]
    worker.run_once()
    assert fake_stripe.refunds == []  # SHIPKEY_REFUND_ON_FRAUD_WARNING is off
    assert mails(db, "fraud_refund") == []

    cleared = admin.post(f"/api/admin/risk-events/{flagged['id']}/clear")
    assert cleared.status_code == 200
    assert [lic["status"] for lic in admin_purchase(admin, purchase_id)["licenses"]] == ["ACTIVE"]


def test_with_refunds_on_the_warned_payment_is_refunded_and_the_buyer_told(
    admin: TestClient,
    client: TestClient,
    settings: Settings,
    db: Database,
    storage: Storage,
    fake_stripe: FakeStripe,
) -> None:
    settings = settings.model_copy(update={"refund_on_fraud_warning": "on"})
    client.app.state.settings = settings  # type: ignore[attr-defined]
    software(admin)
    purchase_id, intent = _sell(client)
    payload = event("radar.early_fraud_warning.created", early_fraud_warning(intent))
    deliver(client, payload)
    deliver(client, payload)
    worker = Worker(settings, db, storage)
    worker.run_once()
    worker.run_once()

    [refund] = fake_stripe.refunds
    assert refund["payment_intent"] == intent
    [told] = mails(db, "fraud_refund")
    assert told.to_address == "buyer@example.com"
    assert told.purchase_id == purchase_id


def test_a_dispute_gets_the_evidence_attached_and_the_seller_a_link(
    admin: TestClient, client: TestClient, db: Database, worker: Worker, fake_stripe: FakeStripe
) -> None:
    software(admin)
    purchase_id, intent = _sell(client)
    worker.run_once()  # the delivery e-mail is sent
    token = admin.post(f"/api/admin/purchases/{purchase_id}/download-links").json()["token"]
    assert client.get(f"/api/download/{token}").status_code == 200
    case = dispute(intent)
    payload = event("charge.dispute.created", case)
    deliver(client, payload)
    deliver(client, payload)
    assert fake_stripe.dispute_updates == []  # not inside the webhook's transaction
    worker.run_once()

    [(dispute_id, params)] = fake_stripe.dispute_updates
    assert dispute_id == case["id"]
    assert params["submit"] == "false"
    evidence = params["evidence"]
    assert evidence["customer_email_address"] == "buyer@example.com"
    assert "Pixel Forge" in evidence["product_description"]
    assert len(evidence["service_date"]) == 10
    assert purchase_id in evidence["access_activity_log"]
    assert "Download" in evidence["access_activity_log"]
    assert "accepted by the mail server" in evidence["access_activity_log"]
    assert "1 download(s)" in evidence["uncategorized_text"]
    [seller] = mails(db, "dispute_evidence")
    assert seller.to_address == "seller@example.com"
    assert f"https://dashboard.stripe.com/disputes/{case['id']}" in seller.text_body
