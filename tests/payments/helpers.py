"""Reading what payments left in the database."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import func, select

from shipkey.db.engine import Database
from shipkey.fulfilment.models import AccessGrant
from shipkey.mail.models import MailMessage
from shipkey.orders.models import Purchase
from shipkey.payments.models import WebhookEvent
from tests.factories import create_product, upload


def purchases(db: Database) -> list[Purchase]:
    with db.read_session() as session:
        return list(session.scalars(select(Purchase).order_by(Purchase.created_at)))


def only_purchase(db: Database) -> Purchase:
    [purchase] = purchases(db)
    return purchase


def purchase(db: Database, purchase_id: str) -> Purchase:
    with db.read_session() as session:
        row = session.get(Purchase, purchase_id)
        assert row is not None
        return row


def events(db: Database) -> list[WebhookEvent]:
    with db.read_session() as session:
        return list(session.scalars(select(WebhookEvent).order_by(WebhookEvent.received_at)))


def event_row(db: Database, event_id: str) -> WebhookEvent:
    with db.read_session() as session:
        query = select(WebhookEvent).where(WebhookEvent.event_id == event_id)
        return session.scalars(query).one()


def mails(db: Database, kind: str | None = None) -> list[MailMessage]:
    query = select(MailMessage).order_by(MailMessage.created_at)
    if kind is not None:
        query = query.where(MailMessage.kind == kind)
    with db.read_session() as session:
        return list(session.scalars(query))


def grants(db: Database, purchase_id: str) -> list[AccessGrant]:
    with db.read_session() as session:
        return list(
            session.scalars(select(AccessGrant).where(AccessGrant.purchase_id == purchase_id))
        )


def count(db: Database, model: Any) -> int:
    with db.read_session() as session:
        return int(session.scalar(select(func.count()).select_from(model)) or 0)


def software(admin: TestClient, **fields: Any) -> dict[str, Any]:
    """A product with a file and a perpetual license: the usual software sale."""
    body: dict[str, Any] = {
        "name": "Pixel Forge",
        "slug": "pixel-forge",
        "type": "LICENSE",
        "price": 1900,
        "licenseType": "PERPETUAL",
    }
    body.update(fields)
    product = create_product(admin, **body)
    upload(admin, product["slug"], b"installer bytes " * 1000, "forge.zip", "application/zip")
    return product


def subscription_product(admin: TestClient, **fields: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "name": "Forge Pro",
        "slug": "forge-pro",
        "type": "SUBSCRIPTION",
        "price": 900,
        "licenseType": "SUBSCRIPTION",
        "metadata": {"features": ["pro"]},
    }
    body.update(fields)
    return create_product(admin, **body)


def admin_purchase(admin: TestClient, purchase_id: str) -> dict[str, Any]:
    response = admin.get(f"/api/admin/purchases/{purchase_id}")
    assert response.status_code == 200, response.text
    result: dict[str, Any] = response.json()
    return result
