"""Writing what happened for the seller's systems, in the transaction of the change itself.

:func:`emit` is called by the domain that makes a change, inside the caller's unit of work (it
flushes, never commits). It writes the event, one delivery for each enabled endpoint that wants
the type, and one ``hooks.deliver`` job per delivery on the job queue — the outbox. Work that
rolls back leaves no event; work that commits loses none, even if the process dies right after.
With no endpoint wanting the type nothing is written, so a store without webhooks pays one
indexed read per event.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, get_args

from sqlalchemy import Table, select
from sqlalchemy.orm import Session

from shipkey.clock import utcnow
from shipkey.db.writes import insert_row
from shipkey.hooks.models import DeliveryStatus, OutboundEvent, WebhookDelivery, WebhookEndpoint
from shipkey.hooks.schemas import EventType
from shipkey.ids import new_id
from shipkey.jobs.service import enqueue

DELIVER_JOB = "hooks.deliver"

EVENT_TYPES: tuple[str, ...] = get_args(EventType)
"""Every type an endpoint can ask for (``ping`` is only ever sent by the seller's test button)."""


_table: Table = WebhookEndpoint.__table__  # type: ignore[assignment]
_ENABLED = select(_table.c.id, _table.c.events).where(_table.c.enabled.is_(True))


_CACHE = "shipkey.hooks.listeners"


def listeners(session: Session, event_type: str) -> list[str]:
    """The ids of the enabled endpoints that want ``event_type``: one small Core read per
    transaction (a sale that reports several events reads them once), on the path of every
    change that reports itself."""
    if event_type not in EVENT_TYPES:
        raise ValueError(f"unknown seller webhook event type {event_type!r}")
    transaction = session.get_transaction()
    cached = session.info.get(_CACHE)
    if cached is not None and cached[0] is transaction:
        rows = cached[1]
    else:
        rows = [(row.id, row.events) for row in session.connection().execute(_ENABLED)]
        session.info[_CACHE] = (transaction, rows)
    return [ident for ident, events in rows if not events or event_type in events]


def forget_listeners(session: Session) -> None:
    """Read the endpoints again at the next event (they were changed in this transaction)."""
    session.info.pop(_CACHE, None)


def emit(
    session: Session,
    event_type: str,
    data: Mapping[str, Any] | Callable[[], Mapping[str, Any]],
    *,
    endpoints: list[WebhookEndpoint] | None = None,
) -> OutboundEvent | None:
    """Record ``event_type`` with ``data`` (the object as the admin API shows it, JSON-ready)
    for every enabled endpoint that wants it, or for ``endpoints`` when given; None when no
    endpoint does. ``data`` may be a function that makes it: it is called only when some
    endpoint wants the event, so a store without webhooks never builds it."""
    if event_type not in EVENT_TYPES:
        raise ValueError(f"unknown seller webhook event type {event_type!r}")
    wanted = listeners(session, event_type) if endpoints is None else [e.id for e in endpoints]
    if not wanted:
        return None
    document = dict(data() if callable(data) else data)
    now = utcnow()
    event = insert_row(
        session,
        OutboundEvent,
        {"id": new_id("msg"), "type": event_type, "data": document, "created_at": now},
    )
    for endpoint_id in wanted:
        delivery = insert_row(
            session,
            WebhookDelivery,
            {
                "id": new_id("whd"),
                "event_id": event.id,
                "endpoint_id": endpoint_id,
                "type": event_type,
                "status": DeliveryStatus.PENDING,
                "attempts": 0,
                "next_attempt_at": now,
                "created_at": now,
            },
        )
        enqueue(session, DELIVER_JOB, {"delivery": delivery.id}, run_at=now)
    return event
