"""Endpoints, events and deliveries for the webhook tests, made through the services."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from shipkey.db.engine import Database
from shipkey.hooks import emit, service
from shipkey.hooks.models import WebhookDelivery, WebhookEndpoint


def endpoint(db: Database, url: str, events: list[str] | None = None) -> tuple[str, str]:
    """A new endpoint's id and secret."""
    with db.session() as session:
        made = service.create_endpoint(session, url, events)
        session.commit()
        return made.id, made.secret


def event(db: Database, event_type: str = "purchase.completed", **data: Any) -> str:
    with db.session() as session:
        made = emit(session, event_type, data or {"id": "pur_1"})
        assert made is not None
        session.commit()
        return made.id


def deliveries(db: Database, endpoint_id: str | None = None) -> list[WebhookDelivery]:
    with db.read_session() as session:
        query = select(WebhookDelivery).order_by(WebhookDelivery.created_at, WebhookDelivery.id)
        if endpoint_id is not None:
            query = query.where(WebhookDelivery.endpoint_id == endpoint_id)
        return list(session.scalars(query))


def delivery(db: Database, endpoint_id: str | None = None) -> WebhookDelivery:
    [only] = deliveries(db, endpoint_id)
    return only


def get_endpoint(db: Database, endpoint_id: str) -> WebhookEndpoint:
    with db.read_session() as session:
        found = session.get(WebhookEndpoint, endpoint_id)
        assert found is not None
        return found
