"""Receiving an event at once: the usual event without a savepoint, the rest left to receive()."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from shipkey.config import Settings
from shipkey.db.engine import Database
from shipkey.payments import events
from shipkey.payments.models import EventStatus, WebhookEvent
from shipkey.payments.outcomes import NotYet, Unprocessable
from tests.licensing.helpers import count_queries
from tests.payments.helpers import count, event_row, only_purchase, purchases, software
from tests.payments.stripe_objects import checkout_session, event, parsed


def test_the_usual_event_takes_effect_without_a_savepoint(
    admin: TestClient, db: Database, settings: Settings
) -> None:
    software(admin)
    payload = event("checkout.session.completed", checkout_session(product="pixel-forge"))
    with count_queries(db.engine) as statements, db.session() as session:
        received = events.receive_at_once(session, settings, parsed(payload))
    assert received == events.Received(payload["id"], duplicate=False, status=EventStatus.PROCESSED)
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
            received = events.receive_at_once(session, settings, parsed(payload))
        assert received.duplicate is duplicate
    assert len(purchases(db)) == 1


def test_an_event_that_cannot_take_effect_yet_raises_for_the_caller_to_roll_back(
    admin: TestClient, db: Database, settings: Settings
) -> None:
    software(admin)
    obj = checkout_session(purchase_id="pur_notwrittenyet0000000", product="pixel-forge")
    payload = event("checkout.session.completed", obj)
    with pytest.raises(events.NotApplied) as raised, db.session() as session:
        events.receive_at_once(session, settings, parsed(payload))
    assert isinstance(raised.value.__cause__, NotYet)
    with db.session() as session:  # what the route does next
        received = events.receive(session, settings, parsed(payload))
    assert received.status is EventStatus.WAITING
    assert event_row(db, payload["id"]).status is EventStatus.WAITING
    assert purchases(db) == []


def test_an_event_that_can_never_take_effect_raises_too(db: Database, settings: Settings) -> None:
    payload = event("checkout.session.completed", checkout_session(product="no-such-product"))
    with pytest.raises(events.NotApplied) as raised, db.session() as session:
        events.receive_at_once(session, settings, parsed(payload))
    assert isinstance(raised.value.__cause__, Unprocessable)
    assert count(db, WebhookEvent) == 0  # the session rolled the stored event back
