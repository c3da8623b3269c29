"""The Stripe event log: each event stored once, applied, and retried until it takes effect.

An event is stored with ``INSERT … ON CONFLICT DO NOTHING`` on ``UNIQUE(provider, event_id)``
and only the request whose insert succeeded acts on it, in the same transaction: a duplicate,
even one delivered concurrently, has no effect. The effect (:mod:`shipkey.payments.effects`)
runs in a savepoint; when it refers to a purchase that is not there yet (:class:`NotYet`), or
fails unexpectedly, the savepoint is rolled back, the event is kept as WAITING and a
``stripe.event`` job applies it later, retrying with backoff for up to three days (as long as
Stripe itself retries). Nothing is lost: the event and its job commit together. The webhook
first tries without the savepoint (:func:`receive_at_once`, two round trips less for the usual
event) and, when the event does not take effect, rolls that try back and receives it as above.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from shipkey.clock import utcnow
from shipkey.config import Settings
from shipkey.db.writes import conditional_update, insert_new, update_if
from shipkey.errors import Conflict, NotFound
from shipkey.ids import new_id
from shipkey.jobs import service as jobs
from shipkey.jobs.service import describe
from shipkey.mail import service as mail
from shipkey.payments.effects import apply
from shipkey.payments.models import PROVIDER, EventStatus, WebhookEvent
from shipkey.payments.outcomes import NotYet, Outcome, Unprocessable
from shipkey.payments.stripe_objects import text
from shipkey.payments.webhooks import StripeEvent

log = logging.getLogger(__name__)

EVENT_JOB = "stripe.event"
RETRY_WINDOW = timedelta(days=3)
"""How long an event that refers to a missing purchase is retried (Stripe retries as long)."""


# --- receiving ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Received:
    event_id: str
    duplicate: bool
    status: EventStatus | None


class NotApplied(Exception):  # noqa: N818 - reads as "(the event was) not applied"
    """Raised by :func:`receive_at_once`: the event did not take effect. The caller rolls
    back what that call wrote and hands the event to :func:`receive`."""


def receive(
    session: Session, settings: Settings, event: StripeEvent, now: datetime | None = None
) -> Received:
    """Store a verified event once and apply it; a duplicate changes nothing."""
    now = now or utcnow()
    row = _store(session, event, now)
    if row is None:
        return Received(event.id, duplicate=True, status=None)
    status = _process(session, settings, row, now)
    if status in (EventStatus.WAITING, EventStatus.RECEIVED):
        _retry_later(session, row)
    return Received(event.id, duplicate=False, status=status)


def receive_at_once(
    session: Session, settings: Settings, event: StripeEvent, now: datetime | None = None
) -> Received:
    """:func:`receive` for the usual case, an event that takes effect at once, without the
    savepoint that keeps the event when its effect is undone (two round trips and a nested
    transaction less per event). When the event does not take effect this raises
    :class:`NotApplied`: the caller rolls this call's writes back (its transaction, or the
    savepoint group commit gives each request) and calls :func:`receive`, which applies it
    again and records how it ended."""
    now = now or utcnow()
    row = _store(session, event, now)
    if row is None:
        return Received(event.id, duplicate=True, status=None)
    try:
        outcome = apply(session, settings, event, now)
    except Exception as exc:
        raise NotApplied(event.id) from exc
    _applied(session, row, outcome, now)
    return Received(event.id, duplicate=False, status=outcome.status)


def _store(session: Session, event: StripeEvent, now: datetime) -> WebhookEvent | None:
    """The event's row, inserted now; None when it was there already (a duplicate)."""
    return insert_new(
        session,
        WebhookEvent,
        {
            "id": new_id("whe"),
            "provider": PROVIDER,
            "event_id": event.id,
            "type": event.type,
            "object_id": text(event.object.get("id")),
            "status": EventStatus.RECEIVED,
            "livemode": event.livemode,
            "payload": event.payload,
            "attempts": 1,  # this one, applied next
            "received_at": now,
        },
    )


_APPLIED = conditional_update(
    WebhookEvent, columns=("status", "error", "processed_at", "purchase_id")
)


def _applied(session: Session, row: WebhookEvent, outcome: Outcome, now: datetime) -> None:
    """Record that the event took effect (one UPDATE, the row is not flushed)."""
    values = {"status": outcome.status, "error": None, "processed_at": now}
    update_if(session, row, _APPLIED, values | {"purchase_id": outcome.purchase_id})


def _retry_later(session: Session, row: WebhookEvent) -> None:
    """A job that applies the event with backoff for :data:`RETRY_WINDOW` (one per attempt
    round: the key carries the attempt that started it)."""
    jobs.enqueue(
        session,
        EVENT_JOB,
        {"event": row.id},
        dedupe_key=f"{EVENT_JOB}:{row.id}:{row.attempts}",
        give_up_after=RETRY_WINDOW,
    )


# --- applying stored events again -------------------------------------------------------------


def get_event(session: Session, row_id: str, *, lock: bool = False) -> WebhookEvent:
    row = None
    if len(row_id) <= 32:
        row = session.get(WebhookEvent, row_id, with_for_update=lock, populate_existing=lock)
    if row is None:
        raise NotFound(f"No webhook event {row_id!r}.", "EVENT_NOT_FOUND")
    return row


def retry(
    session: Session, settings: Settings, row_id: str, now: datetime | None = None
) -> WebhookEvent:
    """Apply a FAILED or WAITING event again now (the seller fixed what was missing, such as a
    product slug); when it still cannot take effect, it waits and is retried as on arrival.
    409 ``EVENT_ALREADY_APPLIED`` for one that took effect or was ignored."""
    row = get_event(session, row_id, lock=True)
    if row.status in (EventStatus.PROCESSED, EventStatus.IGNORED):
        raise Conflict("This event has already been applied.", "EVENT_ALREADY_APPLIED")
    row.attempts += 1
    status = _process(session, settings, row, now or utcnow())
    if status in (EventStatus.WAITING, EventStatus.RECEIVED):
        _retry_later(session, row)
    return row


def process_stored(
    session: Session, settings: Settings, row_id: str, now: datetime | None = None
) -> WebhookEvent | None:
    """Apply a stored event again (the worker); None when it is gone. Final events (processed,
    ignored, failed) are left alone, so running this twice is harmless."""
    row = session.get(WebhookEvent, row_id, with_for_update=True, populate_existing=True)
    if row is None:
        return None
    if row.status in (EventStatus.WAITING, EventStatus.RECEIVED):
        row.attempts += 1
        _process(session, settings, row, now or utcnow())
    return row


def give_up(session: Session, row_id: str, error: str | None) -> None:
    """The event could not be applied within the retry window: FAILED."""
    row = session.get(WebhookEvent, row_id, with_for_update=True, populate_existing=True)
    if row is not None and row.status in (EventStatus.WAITING, EventStatus.RECEIVED):
        row.status = EventStatus.FAILED
        row.error = error or row.error


def _process(session: Session, settings: Settings, row: WebhookEvent, now: datetime) -> EventStatus:
    """Apply a stored event (its attempt already counted) and record how it ended."""
    event = StripeEvent(
        id=row.event_id,
        type=row.type,
        livemode=row.livemode,
        object=row.payload["data"]["object"],
        payload=row.payload,
    )
    savepoint = session.begin_nested()
    try:
        outcome = apply(session, settings, event, now)
    except NotYet as exc:
        savepoint.rollback()
        row.status, row.error = EventStatus.WAITING, str(exc)
    except Unprocessable as exc:
        savepoint.rollback()
        log.warning("stripe event %s (%s) cannot take effect: %s", event.id, event.type, exc)
        row.status, row.error, row.processed_at = EventStatus.FAILED, str(exc), now
        mail.queue_seller_alert(
            session,
            settings,
            {
                "failure": "job",
                "job_kind": event.type,
                "job_id": event.id,
                "attempts": row.attempts,
                "error": str(exc),
            },
        )
    except Exception as exc:
        savepoint.rollback()
        log.exception("stripe event %s (%s) failed; it will be retried", event.id, event.type)
        row.status, row.error = EventStatus.RECEIVED, describe(exc)
    else:
        savepoint.commit()
        _applied(session, row, outcome, now)
    return row.status


# --- the seller's view ------------------------------------------------------------------------


def list_events(
    session: Session, status: EventStatus | None = None, limit: int = 100
) -> list[WebhookEvent]:
    """Events received, newest first."""
    query = select(WebhookEvent)
    if status is not None:
        query = query.where(WebhookEvent.status == status)
    return list(
        session.scalars(
            query.order_by(WebhookEvent.received_at.desc(), WebhookEvent.id).limit(limit)
        )
    )
