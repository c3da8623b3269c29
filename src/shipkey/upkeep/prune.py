"""The daily clean-up: what is done with is removed after ``SHIPKEY_KEEP_DONE_DAYS`` days.

* finished jobs (DONE) are deleted; failed ones stay for the seller to look at;
* sent e-mails keep their row (the purchase's delivery log, the dashboard's deliveries) but
  lose their bodies; waiting and failed ones are untouched (they are still to be sent);
* webhook events that took effect or were ignored are deleted (Stripe stops sending an event
  again after three days); failed and waiting ones stay, they can be applied again;
* sign-in links that expired (used or not) are deleted.

It runs as the job ``upkeep.prune`` on the job queue: every worker queues the day's run when it
starts (one job a day, whoever queues it first), and each run queues the next day's. The work
is done in batches of :data:`BATCH` rows, each its own short transaction, so no lock is held
for long; a run stops after :data:`MAX_BATCHES` batches of a table and queues a run to carry on.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from sqlalchemy import Delete, Select, Update, delete, select, text, update
from sqlalchemy.orm import Session

from shipkey.db.engine import Database
from shipkey.jobs import service as jobs
from shipkey.jobs.models import Job, JobStatus
from shipkey.jobs.registry import JobContext, Recorder, Registry
from shipkey.mail.models import BODIES_KEPT, MailMessage
from shipkey.payments.models import EventStatus, WebhookEvent
from shipkey.portal.models import LoginToken

PRUNE_JOB = "upkeep.prune"
BATCH = 1000
MAX_BATCHES = 200
RUN_AT = time(3, 30)
"""When the day's clean-up is due (UTC): a quiet hour in Europe."""

log = logging.getLogger(__name__)


def register(registry: Registry) -> None:
    registry.register(PRUNE_JOB, run)
    registry.on_start(lambda ctx: schedule_from(ctx.db, ctx.now()))


# --- scheduling -----------------------------------------------------------------------------


def schedule(session: Session, day: date) -> Job:
    """Queue the clean-up of ``day`` (once: the key is the day)."""
    return jobs.enqueue_daily(session, PRUNE_JOB, day, RUN_AT)


def schedule_from(db: Database, now: datetime) -> None:
    """A worker starts: today's clean-up is queued if it is not already (or done)."""
    with db.session() as session:
        schedule(session, now.astimezone(UTC).date())


# --- pruning --------------------------------------------------------------------------------


@dataclass
class Pruned:
    """Rows changed per table; ``more`` when a table had more than one run may do."""

    counts: dict[str, int] = field(default_factory=dict)
    more: bool = False


def _batched(db: Database, name: str, statement: Any, result: Pruned, max_batches: int) -> None:
    done = 0
    for _ in range(max_batches):
        with db.session() as session:
            changed = session.execute(statement).rowcount or 0  # type: ignore[attr-defined]
        done += changed
        if changed < BATCH:
            break
    else:
        result.more = True
    result.counts[name] = done


def _ids(query: Select[Any]) -> Select[Any]:
    return query.limit(BATCH).scalar_subquery()  # type: ignore[return-value]


def statements(cutoff: datetime) -> dict[str, Delete | Update]:
    """The batch statements, each changing at most :data:`BATCH` rows older than ``cutoff``."""
    old_jobs = select(Job.id).where(Job.status == JobStatus.DONE, Job.finished_at < cutoff)
    # The condition is spelt as in the partial index that finds the bodies still kept.
    kept_bodies = select(MailMessage.id).where(text(BODIES_KEPT), MailMessage.sent_at < cutoff)
    old_events = select(WebhookEvent.id).where(
        WebhookEvent.status.in_([EventStatus.PROCESSED, EventStatus.IGNORED]),
        WebhookEvent.received_at < cutoff,
    )
    spent_links = select(LoginToken.id).where(LoginToken.expires_at < cutoff)
    return {
        "jobs": delete(Job).where(Job.id.in_(_ids(old_jobs))),
        "mail bodies": update(MailMessage)
        .where(MailMessage.id.in_(_ids(kept_bodies)))
        .values(text_body="", html_body=""),
        "webhook events": delete(WebhookEvent).where(WebhookEvent.id.in_(_ids(old_events))),
        "sign-in links": delete(LoginToken).where(LoginToken.id.in_(_ids(spent_links))),
    }


def prune(db: Database, keep_days: int, now: datetime, max_batches: int = MAX_BATCHES) -> Pruned:
    """Remove what was done with more than ``keep_days`` days before ``now``."""
    cutoff = now - timedelta(days=keep_days)
    result = Pruned()
    for name, statement in statements(cutoff).items():
        statement = statement.execution_options(synchronize_session=False)
        _batched(db, name, statement, result, max_batches)
    return result


def run(ctx: JobContext, job: Job) -> Recorder:
    """The job: prune, then queue the next day's run (and a run that carries on now, when this
    one stopped early), in the transaction that records this one done."""
    now = ctx.now()
    result = prune(ctx.db, ctx.settings.keep_done_days, now)
    log.info("pruned %s", ", ".join(f"{n} {name}" for name, n in result.counts.items()))
    today = now.astimezone(UTC).date()

    def record(session: Session) -> None:
        schedule(session, today + timedelta(days=1))
        if result.more:
            jobs.enqueue(
                session, PRUNE_JOB, {"day": today.isoformat()}, dedupe_key=f"{PRUNE_JOB}:{job.id}"
            )

    return record
