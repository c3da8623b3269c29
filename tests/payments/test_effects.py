"""Every Stripe event type shipkey acts on, and what it does to the purchase and its goods."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from typing import Any

from fastapi.testclient import TestClient

from shipkey.db.engine import Database
from shipkey.jobs.models import Job, JobStatus
from shipkey.jobs.worker import Worker
from shipkey.payments.models import EventStatus
from tests.factories import create_product, upload
from tests.jobs.helpers import Clock
from tests.payments.helpers import (
    admin_purchase,
    event_row,
    grants,
    mails,
    only_purchase,
    purchase,
    purchases,
    software,
    subscription_product,
)
from tests.payments.stripe_objects import (
    charge,
    checkout_session,
    deliver,
    dispute,
    event,
    invoice,
    new_id,
    payment_intent,
    subscription,
)


def _sell(client: TestClient, **fields: Any) -> tuple[str, str]:
    """A paid Payment Link sale of pixel-forge; (purchase id, payment intent)."""
    intent = new_id("pi")
    obj = checkout_session(product="pixel-forge", payment_intent=intent, **fields)
    result = deliver(client, event("checkout.session.completed", obj))
    assert result["status"] == "PROCESSED"
    db: Database = client.app.state.db  # type: ignore[attr-defined]
    return only_purchase(db).id, intent


def _statuses(record: dict[str, Any]) -> list[str]:
    return [lic["status"] for lic in record["licenses"]]


def test_payment_link_sale_is_created_completed_and_delivered(
    admin: TestClient, client: TestClient, db: Database
) -> None:
    software(admin)
    purchase_id, intent = _sell(client, locale="de", amount_total=2380, currency="eur")
    record = admin_purchase(admin, purchase_id)
    assert record["status"] == "COMPLETED"
    assert record["email"] == "buyer@example.com"
    assert record["source"] == "stripe"
    assert record["amount"] == 2380
    assert record["locale"] == "de"
    assert record["deliveredAt"] is not None
    assert len(record["licenses"]) == 1
    assert len(record["downloads"]) == 1
    [message] = mails(db, "delivery")
    assert message.locale == "de"
    assert message.to_address == "buyer@example.com"
    assert record["licenses"][0]["key"] in message.text_body
    assert "/api/download/" in message.text_body
    assert f"/purchases/{purchase_id}" in message.html_body
    assert purchase(db, purchase_id).stripe_payment_intent_id == intent


def test_an_unknown_product_fails_the_event_without_a_purchase(
    client: TestClient, db: Database
) -> None:
    payload = event("checkout.session.completed", checkout_session(product="no-such-thing"))
    assert deliver(client, payload)["status"] == "FAILED"
    row = event_row(db, payload["id"])
    assert row.error is not None
    assert "no-such-thing" in row.error
    [alert] = mails(db)  # money was taken and nothing delivered: the seller must know
    assert alert.kind == "seller_alert"
    assert alert.to_address == "seller@example.com"
    assert "no-such-thing" in alert.text_body
    assert payload["id"] in alert.text_body


def test_the_seller_fixes_the_cause_and_retries_a_failed_event(
    admin: TestClient, client: TestClient, db: Database
) -> None:
    payload = event("checkout.session.completed", checkout_session(product="pixel-forge"))
    assert deliver(client, payload)["status"] == "FAILED"
    row_id = event_row(db, payload["id"]).id
    software(admin)  # the product the Payment Link names now exists
    retried = admin.post(f"/api/admin/webhook-events/{row_id}/retry")
    assert retried.status_code == 200, retried.text
    assert retried.json()["status"] == "PROCESSED"
    assert retried.json()["attempts"] == 2
    assert only_purchase(db).status.value == "COMPLETED"
    assert len(mails(db, "delivery")) == 1
    again = admin.post(f"/api/admin/webhook-events/{row_id}/retry")
    assert again.status_code == 409
    assert again.json()["code"] == "EVENT_ALREADY_APPLIED"
    assert admin.post("/api/admin/webhook-events/whe_nope/retry").status_code == 404
    assert client.post(f"/api/admin/webhook-events/{row_id}/retry").status_code == 401


def test_a_reference_to_someone_elses_purchase_is_not_believed(
    admin: TestClient, client: TestClient, db: Database
) -> None:
    """A buyer can put any client_reference_id into a Payment Link URL: paying for a cheap
    product must not complete another, pricier purchase."""
    software(admin, price=49900)
    create_product(admin, name="Sticker", slug="sticker", price=100)
    started = client.post("/api/checkout", json={"product": "pixel-forge"}).json()
    cheap = checkout_session(
        product="sticker", client_reference_id=started["purchaseId"], amount_total=100
    )
    deliver(client, event("checkout.session.completed", cheap))
    assert purchase(db, started["purchaseId"]).status.value == "PENDING"
    sticker = next(p for p in purchases(db) if p.id != started["purchaseId"])
    assert sticker.product.slug == "sticker"
    assert sticker.status.value == "COMPLETED"
    # Without a product to fall back on, the session is simply not shipkey's.
    stray = checkout_session(client_reference_id=started["purchaseId"], amount_total=100)
    assert deliver(client, event("checkout.session.completed", stray))["status"] == "IGNORED"
    assert purchase(db, started["purchaseId"]).status.value == "PENDING"


def test_a_session_for_a_purchase_not_written_yet_waits_for_it(
    admin: TestClient, client: TestClient, db: Database
) -> None:
    """The webhook can overtake the checkout request that writes the purchase."""
    software(admin)
    obj = checkout_session(purchase_id="pur_notwrittenyet0000000", product="pixel-forge")
    assert deliver(client, event("checkout.session.completed", obj))["status"] == "WAITING"
    assert purchases(db) == []


def test_unpaid_waits_then_async_success_delivers(
    admin: TestClient, client: TestClient, db: Database
) -> None:
    software(admin)
    obj = checkout_session(product="pixel-forge", payment_status="unpaid")
    deliver(client, event("checkout.session.completed", obj))
    pending = only_purchase(db)
    assert pending.status.value == "PENDING"
    assert pending.email == "buyer@example.com"
    assert mails(db) == []
    obj["payment_status"] = "paid"
    deliver(client, event("checkout.session.async_payment_succeeded", obj))
    done = only_purchase(db)
    assert done.status.value == "COMPLETED"
    assert done.fulfilled_at is not None
    assert len(mails(db, "delivery")) == 1


def test_unpaid_then_async_failure_tells_the_buyer(
    admin: TestClient, client: TestClient, db: Database
) -> None:
    software(admin)
    obj = checkout_session(product="pixel-forge", payment_status="unpaid", locale="de")
    deliver(client, event("checkout.session.completed", obj))
    deliver(client, event("checkout.session.async_payment_failed", obj))
    failed = only_purchase(db)
    assert failed.status.value == "FAILED"
    assert failed.failed_at is not None
    assert failed.fulfilled_at is None
    [message] = mails(db)
    assert message.kind == "payment_failed"
    assert message.locale == "de"
    # A late success for a failed payment delivers nothing.
    deliver(client, event("checkout.session.async_payment_succeeded", obj))
    assert only_purchase(db).status.value == "FAILED"
    assert mails(db, "delivery") == []


def test_payment_intent_succeeded_completes_a_pending_purchase(
    admin: TestClient, client: TestClient, db: Database
) -> None:
    software(admin)
    intent = new_id("pi")
    obj = checkout_session(product="pixel-forge", payment_status="unpaid", payment_intent=intent)
    deliver(client, event("checkout.session.completed", obj))
    assert deliver(client, event("payment_intent.succeeded", payment_intent(intent)))["status"] == (
        "PROCESSED"
    )
    assert only_purchase(db).status.value == "COMPLETED"
    assert len(mails(db, "delivery")) == 1
    # Someone else's payment on the same Stripe account is none of shipkey's business.
    other = deliver(client, event("payment_intent.succeeded", payment_intent(new_id("pi"))))
    assert other["status"] == "IGNORED"


def test_partial_refund_is_recorded_full_refund_revokes(
    admin: TestClient, client: TestClient, db: Database
) -> None:
    software(admin)
    purchase_id, intent = _sell(client)
    deliver(client, event("charge.refunded", charge(intent, amount=1900, refunded_amount=500)))
    record = admin_purchase(admin, purchase_id)
    assert record["status"] == "COMPLETED"
    assert purchase(db, purchase_id).amount_refunded == 500
    assert _statuses(record) == ["ACTIVE"]

    deliver(client, event("charge.refunded", charge(intent, amount=1900, refunded_amount=1900)))
    record = admin_purchase(admin, purchase_id)
    assert record["status"] == "REFUNDED"
    assert purchase(db, purchase_id).amount_refunded == 1900
    assert _statuses(record) == ["REVOKED"]
    assert all(d["revokedAt"] is not None for d in record["downloads"])
    [notice] = mails(db, "revoked")
    assert "refunded" in notice.subject
    # An older partial refund arriving late changes nothing.
    deliver(client, event("charge.refunded", charge(intent, amount=1900, refunded_amount=500)))
    assert purchase(db, purchase_id).amount_refunded == 1900
    assert len(mails(db, "revoked")) == 1


def test_dispute_suspends_then_won_reinstates(
    admin: TestClient, client: TestClient, db: Database
) -> None:
    software(admin)
    purchase_id, intent = _sell(client)
    token = admin.post(f"/api/admin/purchases/{purchase_id}/download-links").json()["token"]
    case = dispute(intent)
    deliver(client, event("charge.dispute.created", case))
    record = admin_purchase(admin, purchase_id)
    assert record["status"] == "DISPUTED"
    assert _statuses(record) == ["SUSPENDED"]
    stopped = client.get(f"/api/download/{token}")
    assert stopped.status_code == 403
    assert stopped.json()["code"] == "PURCHASE_DISPUTED"

    deliver(client, event("charge.dispute.closed", {**case, "status": "won"}))
    record = admin_purchase(admin, purchase_id)
    assert record["status"] == "COMPLETED"
    assert _statuses(record) == ["ACTIVE"]
    assert client.get(f"/api/download/{token}").status_code == 200
    assert len(mails(db, "delivery")) == 1  # reinstating delivers nothing new


def test_dispute_lost_revokes(admin: TestClient, client: TestClient, db: Database) -> None:
    software(admin)
    purchase_id, intent = _sell(client)
    case = dispute(intent)
    deliver(client, event("charge.dispute.created", case))
    deliver(client, event("charge.dispute.closed", {**case, "status": "lost"}))
    record = admin_purchase(admin, purchase_id)
    assert record["status"] == "REFUNDED"
    assert _statuses(record) == ["REVOKED"]
    [notice] = mails(db, "revoked")
    assert "ended" in notice.subject


def test_a_dispute_closed_before_it_was_opened_stays_closed(
    admin: TestClient, client: TestClient
) -> None:
    software(admin)
    purchase_id, intent = _sell(client)
    case = dispute(intent)
    deliver(client, event("charge.dispute.closed", {**case, "status": "won"}))
    late = deliver(client, event("charge.dispute.created", case))
    assert late["status"] == "IGNORED"
    record = admin_purchase(admin, purchase_id)
    assert record["status"] == "COMPLETED"
    assert _statuses(record) == ["ACTIVE"]


def test_a_refund_before_its_purchase_waits_and_is_applied_later(
    admin: TestClient, client: TestClient, db: Database, worker: Worker, clock: Clock
) -> None:
    software(admin)
    intent = new_id("pi")
    refund_event = event("charge.refunded", charge(intent, amount=1900, refunded_amount=1900))
    assert deliver(client, refund_event)["status"] == "WAITING"
    row = event_row(db, refund_event["id"])
    assert row.status is EventStatus.WAITING
    assert row.error is not None

    worker.run_once()  # still nothing to refund: the job backs off
    assert event_row(db, refund_event["id"]).status is EventStatus.WAITING

    obj = checkout_session(product="pixel-forge", payment_intent=intent)
    deliver(client, event("checkout.session.completed", obj))
    assert only_purchase(db).status.value == "COMPLETED"

    clock.advance(minutes=5)
    worker.run_once()
    assert event_row(db, refund_event["id"]).status is EventStatus.PROCESSED
    record = admin_purchase(admin, only_purchase(db).id)
    assert record["status"] == "REFUNDED"
    assert _statuses(record) == ["REVOKED"]


def test_a_waiting_event_gives_up_after_three_days_and_alerts_the_seller(
    client: TestClient, db: Database, worker: Worker, clock: Clock
) -> None:
    payload = event("charge.dispute.created", dispute(new_id("pi")))
    deliver(client, payload)
    worker.run_once()
    clock.advance(days=3, minutes=1)
    worker.run_once()
    row = event_row(db, payload["id"])
    assert row.status is EventStatus.FAILED
    with db.read_session() as session:
        jobs = session.query(Job).filter(Job.kind == "stripe.event").all()
        assert [job.status for job in jobs] == [JobStatus.FAILED]
    [alert] = mails(db, "seller_alert")
    assert alert.to_address == "seller@example.com"
    assert "stripe.event" in alert.text_body


def test_subscription_invoices_extend_and_deletion_ends(
    admin: TestClient, client: TestClient, db: Database
) -> None:
    subscription_product(admin, metadata={"courseSlug": "forge-academy"})
    sub_id = new_id("sub")
    obj = checkout_session(product="forge-pro", subscription=sub_id, payment_intent="")
    obj["payment_intent"] = None
    deliver(client, event("checkout.session.completed", obj))
    bought = only_purchase(db)
    assert bought.stripe_subscription_id == sub_id
    [grant_before] = grants(db, bought.id)

    period_end = int(time.time()) + 31 * 86400
    deliver(client, event("invoice.paid", invoice(sub_id, period_end)))
    until = datetime.fromtimestamp(period_end, UTC)
    record = admin_purchase(admin, bought.id)
    assert [lic["expiresAt"] for lic in record["licenses"]] == [
        until.isoformat().replace("+00:00", "Z")
    ]
    [grant] = grants(db, bought.id)
    assert grant.expires_at == until
    assert grant.id == grant_before.id

    next_end = period_end + 30 * 86400
    deliver(client, event("invoice.paid", invoice(sub_id, next_end)))
    deliver(client, event("invoice.paid", invoice(sub_id, period_end)))  # late, older: no effect
    [grant] = grants(db, bought.id)
    assert grant.expires_at == datetime.fromtimestamp(next_end, UTC)

    ended = int(time.time()) - 60
    deliver(client, event("customer.subscription.deleted", subscription(sub_id, ended_at=ended)))
    record = admin_purchase(admin, bought.id)
    assert _statuses(record) == ["EXPIRED"]
    [grant] = grants(db, bought.id)
    assert grant.expires_at == datetime.fromtimestamp(ended, UTC)
    # After the end, a late invoice does not bring it back.
    deliver(client, event("invoice.paid", invoice(sub_id, next_end + 86400)))
    assert _statuses(admin_purchase(admin, bought.id)) == ["EXPIRED"]


def test_an_invoice_before_the_checkout_waits_for_its_purchase(
    admin: TestClient, client: TestClient, db: Database, worker: Worker, clock: Clock
) -> None:
    subscription_product(admin)
    sub_id = new_id("sub")
    period_end = int(time.time()) + 31 * 86400
    early = event("invoice.paid", invoice(sub_id, period_end))
    assert deliver(client, early)["status"] == "WAITING"
    obj = checkout_session(product="forge-pro", subscription=sub_id)
    deliver(client, event("checkout.session.completed", obj))
    clock.advance(minutes=5)
    worker.run_once()
    assert event_row(db, early["id"]).status is EventStatus.PROCESSED
    record = admin_purchase(admin, only_purchase(db).id)
    assert record["licenses"][0]["expiresAt"].startswith(
        datetime.fromtimestamp(period_end, UTC).strftime("%Y-%m-%dT%H:%M:%S")
    )


def test_one_off_invoices_are_ignored(client: TestClient) -> None:
    obj = invoice("x", int(time.time()))
    obj["parent"] = None
    assert deliver(client, event("invoice.paid", obj))["status"] == "IGNORED"


def test_course_and_membership_sales_grant_access(
    admin: TestClient, client: TestClient, db: Database
) -> None:
    create_product(
        admin,
        name="Shipping Academy",
        slug="academy",
        type="COURSE",
        price=9900,
        metadata={"courseSlug": "shipping-academy"},
    )
    create_product(admin, name="Club", slug="club", type="MEMBERSHIP", price=500)
    deliver(client, event("checkout.session.completed", checkout_session(product="academy")))
    deliver(client, event("checkout.session.completed", checkout_session(product="club")))
    course, club = sorted([purchase(db, p.id) for p in purchases(db)], key=lambda p: p.product.slug)
    [course_grant] = grants(db, course.id)
    [club_grant] = grants(db, club.id)
    assert course_grant.kind.value == "COURSE"
    assert course_grant.expires_at is None
    assert club_grant.kind.value == "MEMBERSHIP"
    assert club_grant.expires_at is not None
    assert club_grant.expires_at > datetime.now(UTC) + timedelta(days=360)
    deliveries = mails(db, "delivery")
    assert len(deliveries) == 2
    assert all("/access/" in message.text_body for message in deliveries)


def test_a_download_product_with_a_file_delivers_links(
    admin: TestClient, client: TestClient, db: Database
) -> None:
    product = create_product(admin, price=1900)
    upload(admin, product["slug"], b"%PDF-1.4 book")
    deliver(client, event("checkout.session.completed", checkout_session(product="test-book")))
    bought = only_purchase(db)
    [message] = mails(db, "delivery")
    assert "/api/download/" in message.text_body
    assert grants(db, bought.id) == []
