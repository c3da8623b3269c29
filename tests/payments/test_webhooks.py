"""``POST /api/webhooks/stripe``: what is refused before anything is recorded, and duplicates."""

from __future__ import annotations

import time
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from shipkey.app import create_app
from shipkey.config import Settings
from shipkey.db.engine import Database
from shipkey.jobs.models import Job
from shipkey.jobs.worker import Worker
from shipkey.orders.models import Customer, Purchase
from shipkey.payments.models import EventStatus, WebhookEvent
from shipkey.sales import delivery, flows
from shipkey.storage import Storage
from tests.jobs.helpers import Clock
from tests.payments.helpers import count, event_row, mails, only_purchase, software
from tests.payments.stripe_objects import (
    WEBHOOK_PATH,
    body_of,
    checkout_session,
    deliver,
    event,
    post_event,
    sign,
)


def _post(client: TestClient, body: bytes, signature: str | None) -> tuple[int, str]:
    headers = {"Content-Type": "application/json"}
    if signature is not None:
        headers["Stripe-Signature"] = signature
    response = client.post(WEBHOOK_PATH, content=body, headers=headers)
    return response.status_code, response.json()["code"]


def _paid_event(admin: TestClient) -> bytes:
    software(admin)
    return body_of(event("checkout.session.completed", checkout_session(product="pixel-forge")))


def test_a_bad_signature_is_refused_and_nothing_recorded(
    admin: TestClient, client: TestClient, db: Database
) -> None:
    body = _paid_event(admin)
    assert _post(client, body, sign(body, secret="whsec_someone_else")) == (
        400,
        "INVALID_SIGNATURE",
    )
    assert _post(client, body, None) == (400, "INVALID_SIGNATURE")
    assert _post(client, body, "t=abc,v1=zzz") == (400, "INVALID_SIGNATURE")
    assert _post(client, body, "garbage") == (400, "INVALID_SIGNATURE")
    tampered = body.replace(b"buyer@example.com", b"thief@example.com")
    assert _post(client, tampered, sign(body)) == (400, "INVALID_SIGNATURE")
    assert count(db, WebhookEvent) == 0
    assert count(db, Job) == 0


def test_a_stale_timestamp_is_refused(admin: TestClient, client: TestClient, db: Database) -> None:
    body = _paid_event(admin)
    stale = int(time.time()) - 301
    assert _post(client, body, sign(body, timestamp=stale)) == (400, "INVALID_SIGNATURE")
    assert count(db, WebhookEvent) == 0
    recent = int(time.time()) - 200  # inside the 300 s tolerance
    status, _ = 200, None
    response = client.post(
        WEBHOOK_PATH, content=body, headers={"Stripe-Signature": sign(body, timestamp=recent)}
    )
    assert response.status_code == status
    assert count(db, WebhookEvent) == 1


@pytest.mark.parametrize(
    "body",
    [
        b"",
        b"not json",
        b"[1, 2, 3]",
        b'{"id": "evt_1", "type": "checkout.session.completed"}',
        b'{"id": "evt_1", "type": "x", "data": {"object": "text"}}',
        b'{"id": 5, "type": "x", "data": {"object": {}}}',
        b'{"id": "", "type": "x", "data": {"object": {}}}',
        b'{"type": "x", "data": {"object": {}}}',
        b"[" * 100_000,
        b'{"id": "evt_1", "type": "x", "data": {"object": {"amount": NaN}}}',
        b'{"id": "evt_1", "type": "x", "data": {"object": {"amount": -Infinity}}}',
        b'{"id": "evt_1", "type": "x", "data": {"object": {"name": "\\ud800"}}}',
        b'{"id": "evt_1", "type": "x", "data": {"object": {"metadata": {"a": "\\u0000"}}}}',
        b'{"id": "evt_1", "type": "x", "data": {"object": {"\\u0000": 1}}}',
        b'{"id": "evt_1", "type": "x", "data": {"object": {"a\x00": 1}}}',  # raw NUL
    ],
)
def test_a_malformed_body_is_refused_even_when_signed(
    client: TestClient, db: Database, body: bytes
) -> None:
    assert _post(client, body, sign(body)) == (400, "INVALID_PAYLOAD")
    assert count(db, WebhookEvent) == 0


def test_a_body_that_is_not_utf8_is_refused(client: TestClient, db: Database) -> None:
    assert _post(client, b"\xff\xfe{}", "t=1,v1=00") == (400, "INVALID_PAYLOAD")
    assert count(db, WebhookEvent) == 0


def test_without_a_webhook_secret_events_are_refused(
    settings: Settings, db: Database, storage: Storage
) -> None:
    app = create_app(
        settings.model_copy(update={"stripe_webhook_secret": None}), db=db, storage=storage
    )
    with TestClient(app) as client:
        body = b'{"id": "evt_1", "type": "x", "data": {"object": {}}}'
        assert _post(client, body, sign(body)) == (503, "WEBHOOK_NOT_CONFIGURED")
    assert count(db, WebhookEvent) == 0


def test_an_unknown_event_type_is_accepted_without_effect(client: TestClient, db: Database) -> None:
    payload = event("customer.created", {"id": "cus_1", "object": "customer"})
    assert deliver(client, payload) == {
        "received": True,
        "duplicate": False,
        "status": "IGNORED",
    }
    row = event_row(db, payload["id"])
    assert row.status is EventStatus.IGNORED
    assert row.type == "customer.created"
    assert row.payload == payload


def test_a_session_that_is_not_a_shipkey_sale_is_ignored(
    admin: TestClient, client: TestClient, db: Database
) -> None:
    software(admin)
    payload = event("checkout.session.completed", checkout_session())  # no metadata
    assert deliver(client, payload)["status"] == "IGNORED"
    assert count(db, WebhookEvent) == 1


def test_a_duplicate_takes_no_effect(admin: TestClient, client: TestClient, db: Database) -> None:
    software(admin)
    payload = event("checkout.session.completed", checkout_session(product="pixel-forge"))
    first = deliver(client, payload)
    assert first == {"received": True, "duplicate": False, "status": "PROCESSED"}
    for _ in range(3):
        assert deliver(client, payload) == {"received": True, "duplicate": True, "status": None}
    purchase = only_purchase(db)
    assert purchase.fulfilled_at is not None
    assert len(mails(db, "delivery")) == 1
    row = event_row(db, payload["id"])
    assert row.attempts == 1
    assert row.purchase_id == purchase.id


def test_a_new_event_id_for_the_same_session_delivers_once(
    admin: TestClient, client: TestClient, db: Database
) -> None:
    """Stripe may send completed and async_payment_succeeded for one session; one delivery."""
    software(admin)
    obj = checkout_session(product="pixel-forge")
    deliver(client, event("checkout.session.completed", obj))
    deliver(client, event("checkout.session.async_payment_succeeded", obj))
    assert only_purchase(db).status.value == "COMPLETED"
    assert len(mails(db, "delivery")) == 1


def _failing_delivery(monkeypatch: pytest.MonkeyPatch, times: int) -> list[int]:
    """Make the delivery of the next ``times`` completions raise, after the purchase, its
    buyer and its completion were written; the number of calls so far."""
    calls = [0]
    deliver_goods = delivery.deliver

    def deliver_or_fail(*args: Any, **kwargs: Any) -> Any:
        calls[0] += 1
        if calls[0] <= times:
            raise RuntimeError("the disk is full")
        return deliver_goods(*args, **kwargs)

    monkeypatch.setattr(flows, "deliver", deliver_or_fail)
    return calls


def test_an_event_that_fails_is_kept_with_nothing_of_its_effect_and_retried(
    admin: TestClient,
    client: TestClient,
    db: Database,
    worker: Worker,
    clock: Clock,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    software(admin)
    payload = event("checkout.session.completed", checkout_session(product="pixel-forge"))
    calls = _failing_delivery(monkeypatch, times=2)  # the first try and the one kept
    assert deliver(client, payload)["status"] == "RECEIVED"
    assert calls[0] == 2
    row = event_row(db, payload["id"])
    assert row.status is EventStatus.RECEIVED
    assert row.error is not None
    assert "the disk is full" in row.error
    assert row.attempts == 1
    assert count(db, Purchase) == 0  # neither try left its purchase, buyer or completion
    assert count(db, Customer) == 0
    assert mails(db) == []
    assert count(db, Job) == 1  # the retry

    clock.advance(minutes=5)
    worker.run_once()
    row = event_row(db, payload["id"])
    assert row.status is EventStatus.PROCESSED
    assert row.attempts == 2
    assert only_purchase(db).fulfilled_at is not None
    assert len(mails(db, "delivery")) == 1


def test_an_event_whose_first_try_fails_takes_effect_on_the_second(
    admin: TestClient, client: TestClient, db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    software(admin)
    payload = event("checkout.session.completed", checkout_session(product="pixel-forge"))
    calls = _failing_delivery(monkeypatch, times=1)
    assert deliver(client, payload) == {"received": True, "duplicate": False, "status": "PROCESSED"}
    assert calls[0] == 2
    row = event_row(db, payload["id"])
    assert (row.status, row.error, row.attempts) == (EventStatus.PROCESSED, None, 1)
    purchase = only_purchase(db)
    assert row.purchase_id == purchase.id
    assert count(db, Customer) == 1
    assert len(mails(db, "delivery")) == 1
    with db.read_session() as session:  # the e-mail's and the sale's risk check, no retry
        assert sorted(session.scalars(select(Job.kind))) == ["mail.send", "risk.check"]


def test_the_webhook_answers_in_the_fast_lane_as_the_framework_would(
    admin: TestClient, client: TestClient, settings: Settings, db: Database, storage: Storage
) -> None:
    """Stripe's bursts are answered in the fast lane (shipkey.http.fast_lane): every answer is the
    one the route gives through FastAPI, and its OpenAPI entry still names the header."""
    assert ("POST", WEBHOOK_PATH) in client.app.fast_routes  # type: ignore[attr-defined]
    software(admin)
    framework = create_app(settings, db=db, storage=storage, fast_lane=False)
    sales = [
        body_of(event("checkout.session.completed", checkout_session(product="pixel-forge")))
        for _ in range(2)
    ]
    cases: list[tuple[bytes, str | None]] = [
        (sales[0], "sign"),  # applied by the lane ...
        (sales[1], "sign"),
        (b"{}", None),
        (b"{}", "t=1,v1=00"),
        (b"not json", "sign"),
        (b'{"id": "evt_1", "type": "x", "data": {"object": {"a": "\\u0000"}}}', "sign"),
    ]
    with TestClient(framework) as through_fastapi:
        for body, signature in cases:
            headers = {"Content-Type": "application/json"}
            if signature is not None:
                headers["Stripe-Signature"] = sign(body) if signature == "sign" else signature
            fast = client.post(WEBHOOK_PATH, content=body, headers=headers)
            slow = through_fastapi.post(WEBHOOK_PATH, content=body, headers=headers)
            # ... and by the framework: the second delivery of each is a duplicate there.
            if fast.status_code == 200:
                assert fast.json() == {"received": True, "duplicate": False, "status": "PROCESSED"}
                assert slow.json() == {"received": True, "duplicate": True, "status": None}
            else:
                assert (fast.status_code, fast.json()) == (slow.status_code, slow.json())
            assert fast.headers["content-type"] == slow.headers["content-type"]
        wrong = client.get(WEBHOOK_PATH)
        assert (wrong.status_code, wrong.json()["code"]) == (405, "METHOD_NOT_ALLOWED")
        operation = through_fastapi.get("/openapi.json").json()["paths"][WEBHOOK_PATH]["post"]
    assert [p["name"] for p in operation["parameters"]] == ["Stripe-Signature"]
    assert "WebhookReceived" in str(operation["responses"]["200"])
    assert len(mails(db, "delivery")) == 2


def test_the_event_log_is_listed_for_the_seller(
    admin: TestClient, client: TestClient, db: Database
) -> None:
    software(admin)
    payload = event("checkout.session.completed", checkout_session(product="pixel-forge"))
    deliver(client, payload)
    deliver(client, event("customer.created", {"id": "cus_1"}))
    listed = admin.get("/api/admin/webhook-events").json()
    assert [row["type"] for row in listed] == ["customer.created", "checkout.session.completed"]
    processed = admin.get("/api/admin/webhook-events", params={"status": "processed"}).json()
    assert [row["eventId"] for row in processed] == [payload["id"]]
    assert processed[0]["purchaseId"] == only_purchase(db).id
    assert client.get("/api/admin/webhook-events").status_code == 401


def test_post_event_helper_signs_like_stripe(client: TestClient) -> None:
    response = post_event(client, event("ping", {"id": "x"}))
    assert response.status_code == 200
