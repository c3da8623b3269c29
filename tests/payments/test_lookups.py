"""Finding the purchase a Checkout Session is about: a Payment Link sale in one read."""

from __future__ import annotations

from fastapi.testclient import TestClient

from shipkey.config import Settings
from shipkey.db.engine import Database
from shipkey.payments import events
from shipkey.payments.models import EventStatus
from tests.licensing.helpers import count_queries
from tests.payments.helpers import only_purchase, software
from tests.payments.stripe_objects import checkout_session, event, parsed


def _selects(statements: list[str]) -> int:
    return len([s for s in statements if s.lstrip().upper().startswith("SELECT")])


def test_a_payment_link_sale_reads_its_product_and_any_earlier_purchase_at_once(
    admin: TestClient, db: Database, settings: Settings
) -> None:
    software(admin)
    obj = checkout_session(product="pixel-forge", payment_status="unpaid")
    with count_queries(db.engine) as statements, db.session() as session:
        events.receive_at_once(session, settings, parsed(event("checkout.session.completed", obj)))
    assert _selects(statements) == 1
    obj["payment_status"] = "paid"  # the same session, paid later: its purchase is found
    paid = event("checkout.session.async_payment_succeeded", obj)
    with count_queries(db.engine) as statements, db.session() as session:
        received = events.receive_at_once(session, settings, parsed(paid))
    assert received.status is EventStatus.PROCESSED
    assert _selects(statements) == 1 + 1  # and one of the seller's webhook endpoints, for all
    assert only_purchase(db).fulfilled_at is not None


def test_a_sale_whose_product_was_renamed_since_is_still_found(
    admin: TestClient, db: Database, settings: Settings
) -> None:
    software(admin)
    obj = checkout_session(product="pixel-forge", payment_status="unpaid")
    with db.session() as session:
        events.receive_at_once(session, settings, parsed(event("checkout.session.completed", obj)))
    renamed = admin.patch("/api/admin/products/pixel-forge", json={"slug": "pixel-forge-2"})
    assert renamed.status_code == 200, renamed.text
    obj["payment_status"] = "paid"
    with db.session() as session:
        received = events.receive_at_once(
            session, settings, parsed(event("checkout.session.async_payment_succeeded", obj))
        )
    assert received.status is EventStatus.PROCESSED
    purchase = only_purchase(db)
    assert purchase.status.value == "COMPLETED"
    assert purchase.fulfilled_at is not None
