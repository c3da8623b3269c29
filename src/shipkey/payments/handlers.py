"""The worker's side of Stripe: applying events that could not take effect when they came."""

from __future__ import annotations

from sqlalchemy.orm import Session

from shipkey.jobs.models import Job
from shipkey.jobs.registry import JobContext, Registry
from shipkey.payments import events, fraud
from shipkey.payments.models import EventStatus


class EventPending(Exception):  # noqa: N818
    """The event is still waiting for its purchase (or failed); the job backs off and retries."""


def register(registry: Registry) -> None:
    registry.register(events.EVENT_JOB, apply_event, on_give_up=event_failed)
    registry.register(fraud.REFUND_JOB, fraud.refund_for_warning)
    registry.register(fraud.EVIDENCE_JOB, fraud.attach_evidence)


def apply_event(ctx: JobContext, job: Job) -> None:
    """Apply a stored event; raise while it cannot take effect yet, so the job retries."""
    with ctx.db.session() as session:
        row = events.process_stored(session, ctx.settings, str(job.payload["event"]), ctx.now())
        status, error = (row.status, row.error) if row is not None else (None, None)
    if status in (EventStatus.WAITING, EventStatus.RECEIVED):
        raise EventPending(error or "the event has not taken effect yet")


def event_failed(session: Session, _ctx: JobContext, job: Job) -> None:
    """Three days without its purchase: the event is FAILED (and the seller is alerted)."""
    events.give_up(session, str(job.payload["event"]), job.last_error)
