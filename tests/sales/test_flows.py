"""Completing a purchase: one UPDATE in the usual case, each step on its own otherwise."""

from __future__ import annotations

from fastapi.testclient import TestClient
from sqlalchemy import update
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import set_committed_value

from shipkey.config import Settings
from shipkey.db.engine import Database
from shipkey.orders import service as orders
from shipkey.orders.models import Purchase, PurchaseStatus
from shipkey.sales import flows
from tests.factories import create_product, create_purchase
from tests.licensing.helpers import count_queries


def _purchase_updates(statements: list[str]) -> list[str]:
    return [s for s in statements if s.lstrip().upper().startswith("UPDATE PURCHASES")]


def _pending(admin: TestClient) -> str:
    product = create_product(admin, type="LICENSE")
    purchase_id: str = create_purchase(admin, product["slug"], status="PENDING")["id"]
    return purchase_id


def _loaded(session: Session, purchase_id: str) -> Purchase:
    purchase = session.get(Purchase, purchase_id)
    assert purchase is not None
    return purchase


def test_a_pending_purchase_is_completed_and_claimed_by_one_update(
    admin: TestClient, db: Database, settings: Settings
) -> None:
    purchase_id = _pending(admin)
    with count_queries(db.engine) as statements, db.session() as session:
        purchase = _loaded(session, purchase_id)
        delivery = flows.complete(session, settings, purchase)
    assert delivery is not None
    assert len(delivery.licenses) == 1
    assert len(_purchase_updates(statements)) == 1
    record = admin.get(f"/api/admin/purchases/{purchase_id}").json()
    assert record["status"] == "COMPLETED"
    assert record["completedAt"] is not None
    assert record["deliveredAt"] == record["completedAt"]


def test_a_purchase_without_a_buyer_is_completed_and_delivered_once_the_buyer_is_known(
    admin: TestClient, db: Database, settings: Settings
) -> None:
    purchase_id = _pending(admin)
    with db.session() as session:
        session.execute(
            update(Purchase).where(Purchase.id == purchase_id).values(customer_id=None, email=None)
        )
    with db.session() as session:
        purchase = _loaded(session, purchase_id)
        assert flows.complete(session, settings, purchase) is None
        assert purchase.status is PurchaseStatus.COMPLETED
        assert purchase.fulfilled_at is None
    with db.session() as session:
        purchase = _loaded(session, purchase_id)
        orders.set_buyer(session, purchase, "late@example.com")
        delivery = flows.complete(session, settings, purchase)
        assert delivery is not None
        assert delivery.message is not None
        assert delivery.message.to_address == "late@example.com"
    with db.session() as session:  # completing again delivers nothing more
        purchase = _loaded(session, purchase_id)
        assert flows.complete(session, settings, purchase) is None


def test_a_refunded_purchase_is_not_completed(
    admin: TestClient, db: Database, settings: Settings
) -> None:
    purchase_id = _pending(admin)
    with db.session() as session:
        purchase = _loaded(session, purchase_id)
        flows.refund(session, settings, purchase, before_delivery=True)
    with db.session() as session:
        purchase = _loaded(session, purchase_id)
        assert flows.complete(session, settings, purchase) is None
        assert purchase.status is PurchaseStatus.REFUNDED
    record = admin.get(f"/api/admin/purchases/{purchase_id}").json()
    assert record["status"] == "REFUNDED"
    assert record["deliveredAt"] is None


def test_completion_sees_a_buyer_recorded_meanwhile(
    admin: TestClient, db: Database, settings: Settings
) -> None:
    purchase_id = _pending(admin)
    with db.session() as session:
        purchase = _loaded(session, purchase_id)
        # As a session sees a row it read before another request recorded the buyer.
        set_committed_value(purchase, "customer_id", None)
        set_committed_value(purchase, "email", None)
        delivery = flows.complete(session, settings, purchase)
        assert delivery is not None
        assert delivery.message is not None
        assert delivery.message.to_address == "buyer@example.com"
