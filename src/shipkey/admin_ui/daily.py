"""The dashboard's days counted ahead: the job ``dashboard.count`` counts the days that
settled overnight (and the purchases before them) and keeps them, so that no seller's view
waits for it. Every worker queues the day's run when it starts (once a day, whoever queues it
first; due at 00:30 UTC, so a worker started later in the day counts at once) and each run
queues the next day's. ``shipkey migrate`` counts them too, after the migrations. Without a
worker, the first view of a day counts the days missing (only those) instead."""

from __future__ import annotations

import logging
from datetime import UTC, date, datetime, time, timedelta

from sqlalchemy.orm import Session

from shipkey.admin_ui import service
from shipkey.db.engine import Database
from shipkey.jobs import service as jobs
from shipkey.jobs.models import Job
from shipkey.jobs.registry import JobContext, Recorder, Registry

COUNT_JOB = "dashboard.count"
RUN_AT = time(0, 30)

log = logging.getLogger(__name__)


def register(registry: Registry) -> None:
    registry.register(COUNT_JOB, run)
    registry.on_start(lambda ctx: schedule_from(ctx.db, ctx.now()))


def schedule(session: Session, day: date) -> Job:
    """Queue the count of ``day`` (once: the key is the day)."""
    return jobs.enqueue_daily(session, COUNT_JOB, day, RUN_AT)


def schedule_from(db: Database, now: datetime) -> None:
    with db.session() as session:
        schedule(session, now.astimezone(UTC).date())


def count_missing(db: Database, now: datetime | None = None) -> None:
    """Count and keep the settled days the dashboard shows that are not kept yet (none when
    all are: then it reads a few kept rows). Run by the job, and after migrations, so that a
    new or upgraded installation's first view of the dashboard finds its days counted."""
    with db.read_session() as session:
        service.dashboard(session, now=now, keep=service.keep_days(db))


def run(ctx: JobContext, job: Job) -> Recorder:
    """Count and keep the settled days the dashboard shows; queue tomorrow's run."""
    now = ctx.now()
    count_missing(ctx.db, now)
    log.info("dashboard days counted for %s", now.date())
    today = now.astimezone(UTC).date()
    return lambda session: schedule(session, today + timedelta(days=1))
