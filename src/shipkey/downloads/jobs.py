"""The worker's side of stamping: the ``stamp.build`` job, queued when a stamped e-book sells."""

from __future__ import annotations

import logging

from sqlalchemy.orm import Session

from shipkey.downloads.copies import discard_copy, ensure_stamped, stamp_kind
from shipkey.downloads.stamping import StampError
from shipkey.jobs import service as jobs
from shipkey.jobs.models import Job
from shipkey.jobs.registry import JobContext, PermanentError, Registry
from shipkey.orders.models import Purchase

STAMP_JOB = "stamp.build"
DISCARD_JOB = "stamp.discard"

log = logging.getLogger(__name__)


def register(registry: Registry) -> None:
    registry.register(STAMP_JOB, build)
    registry.register(DISCARD_JOB, discard)


def enqueue_stamp(session: Session, purchase: Purchase) -> Job | None:
    """Queue the buyer's personal copy in the caller's transaction, if the product is stamped."""
    if stamp_kind(purchase.product) is None:
        return None
    return jobs.enqueue(
        session, STAMP_JOB, {"purchase_id": purchase.id}, dedupe_key=f"stamp:{purchase.id}"
    )


def enqueue_discard(session: Session, purchase: Purchase) -> Job | None:
    """Queue the deletion of the buyer's personal copy (the purchase was refunded)."""
    if stamp_kind(purchase.product) is None:
        return None
    return jobs.enqueue(
        session,
        DISCARD_JOB,
        {"purchase_id": purchase.id},
        dedupe_key=f"stamp-discard:{purchase.id}",
    )


def discard(ctx: JobContext, job: Job) -> None:
    purchase_id = str(job.payload["purchase_id"])
    if discard_copy(ctx.db, ctx.storage, purchase_id):
        log.info("stamped copy for %s deleted", purchase_id)


def build(ctx: JobContext, job: Job) -> None:
    purchase_id = str(job.payload["purchase_id"])
    try:
        built = ensure_stamped(ctx.db, ctx.storage, purchase_id)
    except StampError as exc:
        raise PermanentError(f"purchase {purchase_id}: {exc}") from exc
    log.info("stamped copy for %s %s", purchase_id, "built" if built else "already there")
