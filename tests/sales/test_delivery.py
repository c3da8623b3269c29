"""fulfil(purchase) delivers once, however often and however concurrently it is called."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

from fastapi.testclient import TestClient
from sqlalchemy import func, select, update
from sqlalchemy.orm.attributes import set_committed_value

from shipkey.config import Settings
from shipkey.db.engine import Database
from shipkey.downloads.models import Download
from shipkey.orders.models import Purchase, PurchaseStatus
from shipkey.sales import delivery, flows
from tests.factories import create_purchase, product_with_file


def _links(db: Database, purchase_id: str) -> int:
    with db.read_session() as session:
        count = session.scalar(
            select(func.count()).select_from(Download).where(Download.purchase_id == purchase_id)
        )
    return int(count or 0)


def test_fulfil_twice_delivers_once(admin: TestClient, db: Database, settings: Settings) -> None:
    product, _ = product_with_file(admin)
    purchase_id = create_purchase(admin, product["slug"])["id"]
    with db.session() as session:
        purchase = session.get(Purchase, purchase_id)
        assert purchase is not None
        assert delivery.fulfil(session, settings, purchase) is None
    assert _links(db, purchase_id) == 1


def test_pending_purchase_is_not_fulfilled(
    admin: TestClient, db: Database, settings: Settings
) -> None:
    product, _ = product_with_file(admin)
    purchase_id = create_purchase(admin, product["slug"], status="PENDING")["id"]
    with db.session() as session:
        purchase = session.get(Purchase, purchase_id)
        assert purchase is not None
        assert delivery.fulfil(session, settings, purchase) is None
    assert _links(db, purchase_id) == 0


def test_concurrent_fulfilment_delivers_once(
    admin: TestClient, db: Database, settings: Settings
) -> None:
    product, _ = product_with_file(admin)
    purchase_id = create_purchase(admin, product["slug"], status="PENDING")["id"]
    with db.session() as session:
        session.execute(
            update(Purchase)
            .where(Purchase.id == purchase_id)
            .values(status=PurchaseStatus.COMPLETED)
        )
    callers = 16
    barrier = threading.Barrier(callers)

    def call(_: int) -> bool:
        barrier.wait()
        with db.session() as session:
            purchase = session.get(Purchase, purchase_id)
            assert purchase is not None
            return delivery.fulfil(session, settings, purchase) is not None

    with ThreadPoolExecutor(max_workers=callers) as pool:
        delivered = list(pool.map(call, range(callers)))
    assert delivered.count(True) == 1
    assert _links(db, purchase_id) == 1


def test_concurrent_completion_delivers_once(
    admin: TestClient, db: Database, settings: Settings
) -> None:
    product, _ = product_with_file(admin)
    purchase_id = create_purchase(admin, product["slug"], status="PENDING")["id"]
    callers = 16
    barrier = threading.Barrier(callers)

    def call(_: int) -> bool:
        barrier.wait()
        with db.session() as session:
            purchase = session.get(Purchase, purchase_id)
            assert purchase is not None
            return flows.complete(session, settings, purchase) is not None

    with ThreadPoolExecutor(max_workers=callers) as pool:
        delivered = list(pool.map(call, range(callers)))
    assert delivered.count(True) == 1
    assert _links(db, purchase_id) == 1
    record = admin.get(f"/api/admin/purchases/{purchase_id}").json()
    assert record["status"] == "COMPLETED"
    assert record["deliveredAt"] is not None


def test_failed_fulfilment_leaves_nothing(
    admin: TestClient, db: Database, settings: Settings
) -> None:
    """All or nothing: an error inside the unit of work undoes the claim and the links."""
    product, _ = product_with_file(admin)
    purchase_id = create_purchase(admin, product["slug"], status="PENDING")["id"]
    try:
        with db.session() as session:
            purchase = session.get(Purchase, purchase_id)
            assert purchase is not None
            assert flows.complete(session, settings, purchase) is not None
            raise RuntimeError("crash after fulfilment, before commit")
    except RuntimeError:
        pass
    assert _links(db, purchase_id) == 0
    record = admin.get(f"/api/admin/purchases/{purchase_id}").json()
    assert record["status"] == "PENDING"
    assert record["deliveredAt"] is None


def test_a_buyer_recorded_meanwhile_still_gets_the_delivery(
    admin: TestClient, db: Database, settings: Settings
) -> None:
    product, _ = product_with_file(admin)
    purchase_id = create_purchase(admin, product["slug"], status="PENDING")["id"]
    with db.session() as session:
        purchase = session.get(Purchase, purchase_id)
        assert purchase is not None
        # As a session sees a row it read before another request recorded the buyer.
        set_committed_value(purchase, "customer_id", None)
        set_committed_value(purchase, "email", None)
        session.execute(
            update(Purchase)
            .where(Purchase.id == purchase_id)
            .values(status=PurchaseStatus.COMPLETED)
            .execution_options(synchronize_session=False)
        )
        handed = delivery.fulfil(session, settings, purchase)
        assert handed is not None
        assert handed.message is not None  # the e-mail went to the buyer the row names
        assert handed.message.to_address == purchase.email
    assert _links(db, purchase_id) == 1
