"""Receiving an event at once: the usual event without a savepoint, the rest left to receive()."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from shipkey.config import Settings
from shipkey.db.engine import Database
from shipkey.payments import service
from shipkey.payments.models import EventStatus, WebhookEvent
from shipkey.payments.webhooks import StripeEvent, parse
from tests.licensing.helpers import count_queries
from tests.payments.helpers import count, event_row, only_purchase, purchases, software
from tests.payments.stripe_objects import body_of, checkout_session, event


def _parsed(payload: dict[str, object]) -> StripeEvent:
    return parse(body_of(payload).decode())


def test_the_usual_event_takes_effect_without_a_savepoint(
    admin: TestClient, db: Database, settings: Settings
) -> None:
    software(admin)
    payload = event("checkout.session.completed", checkout_session(product="pixel-forge"))
    with count_queries(db.engine) as statements, db.session() as session:
        received = service.receive_at_once(session, settings, _parsed(payload))
    assert received == service.Received(
        payload["id"], duplicate=False, status=EventStatus.PROCESSED
    )
    assert not [s for s in statements if "SAVEPOINT" in s.upper()]
    updates = [s for s in statements if s.lstrip().upper().startswith("UPDATE WEBHOOK_EVENTS")]
    assert len(updates) == 1
    row = event_row(db, payload["id"])
    assert (row.status, row.error, row.attempts) == (EventStatus.PROCESSED, None, 1)
    assert row.processed_at is not None
    assert row.purchase_id == only_purchase(db).id


def test_a_duplicate_is_reported_and_changes_nothing(
    admin: TestClient, db: Database, settings: Settings
) -> None:
    software(admin)
    payload = event("checkout.session.completed", checkout_session(product="pixel-forge"))
    for duplicate in (False, True):
        with db.session() as session:
            received = service.receive_at_once(session, settings, _parsed(payload))
        assert received.duplicate is duplicate
    assert len(purchases(db)) == 1


def test_an_event_that_cannot_take_effect_yet_raises_for_the_caller_to_roll_back(
    admin: TestClient, db: Database, settings: Settings
) -> None:
    software(admin)
    obj = checkout_session(purchase_id="pur_notwrittenyet0000000", product="pixel-forge")
    payload = event("checkout.session.completed", obj)
    with pytest.raises(service.NotApplied) as raised, db.session() as session:
        service.receive_at_once(session, settings, _parsed(payload))
    assert isinstance(raised.value.__cause__, service.NotYet)
    with db.session() as session:  # what the route does next
        received = service.receive(session, settings, _parsed(payload))
    assert received.status is EventStatus.WAITING
    assert event_row(db, payload["id"]).status is EventStatus.WAITING
    assert purchases(db) == []


def test_an_event_that_can_never_take_effect_raises_too(db: Database, settings: Settings) -> None:
    payload = event("checkout.session.completed", checkout_session(product="no-such-product"))
    with pytest.raises(service.NotApplied) as raised, db.session() as session:
        service.receive_at_once(session, settings, _parsed(payload))
    assert isinstance(raised.value.__cause__, service.Unprocessable)
    assert count(db, WebhookEvent) == 0  # the session rolled the stored event back


def _selects(statements: list[str]) -> int:
    return len([s for s in statements if s.lstrip().upper().startswith("SELECT")])


def test_a_payment_link_sale_reads_its_product_and_any_earlier_purchase_at_once(
    admin: TestClient, db: Database, settings: Settings
) -> None:
    software(admin)
    obj = checkout_session(product="pixel-forge", payment_status="unpaid")
    with count_queries(db.engine) as statements, db.session() as session:
        service.receive_at_once(
            session, settings, _parsed(event("checkout.session.completed", obj))
        )
    assert _selects(statements) == 1
    obj["payment_status"] = "paid"  # the same session, paid later: its purchase is found
    paid = event("checkout.session.async_payment_succeeded", obj)
    with count_queries(db.engine) as statements, db.session() as session:
        received = service.receive_at_once(session, settings, _parsed(paid))
    assert received.status is EventStatus.PROCESSED
    assert _selects(statements) == 1
    assert only_purchase(db).fulfilled_at is not None


def test_a_sale_whose_product_was_renamed_since_is_still_found(
    admin: TestClient, db: Database, settings: Settings
) -> None:
    software(admin)
    obj = checkout_session(product="pixel-forge", payment_status="unpaid")
    with db.session() as session:
        service.receive_at_once(
            session, settings, _parsed(event("checkout.session.completed", obj))
        )
    renamed = admin.patch("/api/admin/products/pixel-forge", json={"slug": "pixel-forge-2"})
    assert renamed.status_code == 200, renamed.text
    obj["payment_status"] = "paid"
    with db.session() as session:
        received = service.receive_at_once(
            session, settings, _parsed(event("checkout.session.async_payment_succeeded", obj))
        )
    assert received.status is EventStatus.PROCESSED
    purchase = only_purchase(db)
    assert purchase.status.value == "COMPLETED"
    assert purchase.fulfilled_at is not None
