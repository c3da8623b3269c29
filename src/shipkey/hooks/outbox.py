"""Writing what happened for the seller's systems, in the transaction of the change itself.

:func:`emit` is called by the domain that makes a change, inside the caller's unit of work (it
flushes, never commits). It writes the event, one delivery for each enabled endpoint that wants
the type, and one ``hooks.deliver`` job per delivery on the job queue — the outbox. Work that
rolls back leaves no event; work that commits loses none, even if the process dies right after.
With no endpoint wanting the type nothing is written, so a store without webhooks pays one
indexed read per event.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from shipkey.clock import utcnow
from shipkey.db.writes import insert_row
from shipkey.hooks.models import DeliveryStatus, OutboundEvent, WebhookDelivery, WebhookEndpoint
from shipkey.ids import new_id
from shipkey.jobs.service import enqueue

DELIVER_JOB = "hooks.deliver"

EVENT_TYPES: tuple[str, ...] = (
    "purchase.completed",
    "purchase.refunded",
    "purchase.disputed",
    "license.created",
    "license.activated",
    "license.deactivated",
    "license.suspended",
    "license.reinstated",
    "license.revoked",
    "access.granted",
    "access.revoked",
    "delivery.failed",
    "risk.flagged",
    "release.published",
    "ping",
)
"""Every type an endpoint can ask for (``ping`` is only ever sent by the seller's test button)."""


def emit(
    session: Session,
    event_type: str,
    data: Mapping[str, Any],
    *,
    endpoints: list[WebhookEndpoint] | None = None,
) -> OutboundEvent | None:
    """Record ``event_type`` with ``data`` (the object as the admin API shows it, JSON-ready)
    for every enabled endpoint that wants it, or for ``endpoints`` when given; None when no
    endpoint does."""
    if event_type not in EVENT_TYPES:
        raise ValueError(f"unknown seller webhook event type {event_type!r}")
    if endpoints is None:
        enabled = session.scalars(
            select(WebhookEndpoint).where(WebhookEndpoint.enabled.is_(True))
        ).all()
        endpoints = [endpoint for endpoint in enabled if endpoint.wants(event_type)]
    if not endpoints:
        return None
    now = utcnow()
    event = insert_row(
        session,
        OutboundEvent,
        {"id": new_id("msg"), "type": event_type, "data": dict(data), "created_at": now},
    )
    for endpoint in endpoints:
        delivery = insert_row(
            session,
            WebhookDelivery,
            {
                "id": new_id("whd"),
                "event_id": event.id,
                "endpoint_id": endpoint.id,
                "type": event_type,
                "status": DeliveryStatus.PENDING,
                "attempts": 0,
                "next_attempt_at": now,
                "created_at": now,
            },
        )
        enqueue(session, DELIVER_JOB, {"delivery": delivery.id}, run_at=now)
    return event
