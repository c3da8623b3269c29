"""The job queue's rules: enqueue in the caller's transaction, claim with a lease, record outcomes.

Claiming takes one due job in one short transaction. On PostgreSQL the row is selected with
``FOR UPDATE SKIP LOCKED``, so concurrent workers never wait for each other nor take the same
job; on SQLite the write lock taken by ``BEGIN IMMEDIATE`` serialises claims. A claimed job is
RUNNING with a lease: if its worker dies, the lease expires and the job is due again.
"""

from __future__ import annotations

import secrets
import threading
import weakref
from collections.abc import Collection
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from sqlalchemy import Table, event, select, tuple_, update
from sqlalchemy.orm import Session

from shipkey.clock import utcnow
from shipkey.db.writes import insert_ignore, insert_row
from shipkey.ids import new_id
from shipkey.jobs.models import Job, JobStatus

ERROR_LIMIT = 4000
_RING_KEY = "shipkey.jobs.ring_on_commit"
_random = secrets.SystemRandom()


# --- waking in-process workers -------------------------------------------------------------


class Doorbell:
    """Wakes the workers of this process when a transaction that enqueued a job commits."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._events: weakref.WeakSet[threading.Event] = weakref.WeakSet()

    def subscribe(self, wake: threading.Event) -> None:
        with self._lock:
            self._events.add(wake)

    def unsubscribe(self, wake: threading.Event) -> None:
        with self._lock:
            self._events.discard(wake)

    def ring(self) -> None:
        with self._lock:
            events = list(self._events)
        for wake in events:
            wake.set()


doorbell = Doorbell()


def _after_commit(session: Session) -> None:
    session.info.pop(_RING_KEY, None)
    doorbell.ring()


def ring_on_commit(session: Session) -> None:
    if session.info.get(_RING_KEY):
        return
    session.info[_RING_KEY] = True
    event.listen(session, "after_commit", _after_commit, once=True)


# --- enqueueing ----------------------------------------------------------------------------


def enqueue(
    session: Session,
    kind: str,
    payload: dict[str, Any],
    *,
    run_at: datetime | None = None,
    dedupe_key: str | None = None,
    give_up_after: timedelta | None = None,
) -> Job:
    """Add a job in the caller's transaction: it exists exactly when that transaction commits.

    ``dedupe_key`` makes the call idempotent: a second job with the same key is not created and
    the first is returned. Without ``give_up_after`` the job is retried for
    ``SHIPKEY_GIVE_UP_HOURS`` from its first attempt.
    """
    now = utcnow()
    start = run_at or now
    values: dict[str, Any] = {
        "id": new_id("job"),
        "kind": kind,
        "payload": payload,
        "status": JobStatus.QUEUED,
        "attempts": 0,
        "run_at": start,
        "created_at": now,
        "give_up_at": start + give_up_after if give_up_after is not None else None,
        "dedupe_key": dedupe_key,
    }
    if dedupe_key is None:
        job = insert_row(session, Job, values)
    else:
        insert_ignore(session, Job, values)
        job = session.scalars(select(Job).where(Job.dedupe_key == dedupe_key)).one()
    ring_on_commit(session)
    return job


def enqueue_daily(session: Session, kind: str, day: date, at: time) -> Job:
    """Queue ``kind``'s run of ``day``, due at ``at`` UTC, once: every worker that starts asks,
    and the key (kind and day) makes the second ask return the first job."""
    return enqueue(
        session,
        kind,
        {"day": day.isoformat()},
        run_at=datetime.combine(day, at, tzinfo=UTC),
        dedupe_key=f"{kind}:{day.isoformat()}",
    )


# --- backoff -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Backoff:
    """``base · 2^(attempt-1)``, capped, shortened by up to ``jitter`` so retries spread out."""

    base: timedelta = timedelta(seconds=5)
    cap: timedelta = timedelta(minutes=30)
    jitter: float = 0.2

    def delay(self, attempt: int, rand: float | None = None) -> timedelta:
        exponent = min(max(attempt - 1, 0), 32)
        raw = min(self.cap.total_seconds(), self.base.total_seconds() * 2**exponent)
        fraction = _random.random() if rand is None else rand
        return timedelta(seconds=raw * (1 - self.jitter * fraction))


# --- claiming and finishing ----------------------------------------------------------------


def next_due(session: Session, now: datetime, skip_kinds: Collection[str] = ()) -> Job | None:
    """The oldest due job, locked for this transaction; QUEUED, or RUNNING with a dead lease.
    Jobs of ``skip_kinds`` are left for later (their worker's pool is busy)."""
    statement = select(Job).where(
        Job.status.in_([JobStatus.QUEUED, JobStatus.RUNNING]), Job.run_at <= now
    )
    if skip_kinds:
        statement = statement.where(Job.kind.not_in(list(skip_kinds)))
    return session.scalars(
        statement.order_by(Job.run_at, Job.id).limit(1).with_for_update(skip_locked=True)
    ).first()


def more_due(session: Session, kind: str, now: datetime, limit: int) -> list[Job]:
    """Up to ``limit`` more due QUEUED jobs of ``kind``, oldest first, locked for this
    transaction (claimed together with one of them for a pool of threads)."""
    if limit <= 0:
        return []
    return list(
        session.scalars(
            select(Job)
            .where(Job.status == JobStatus.QUEUED, Job.kind == kind, Job.run_at <= now)
            .order_by(Job.run_at, Job.id)
            .limit(limit)
            .with_for_update(skip_locked=True)
        )
    )


def running_jobs(session: Session) -> list[Job]:
    """Every RUNNING job no other transaction holds, locked for this one."""
    return list(
        session.scalars(
            select(Job).where(Job.status == JobStatus.RUNNING).with_for_update(skip_locked=True)
        )
    )


def take(job: Job, worker_id: str, now: datetime, lease: timedelta, give_up: timedelta) -> None:
    """Make ``job`` this worker's: RUNNING until ``now + lease``; one more attempt."""
    job.status = JobStatus.RUNNING
    job.attempts += 1
    job.locked_by = worker_id
    job.locked_until = now + lease
    job.run_at = job.locked_until
    if job.give_up_at is None:
        job.give_up_at = now + give_up


def renew_leases(
    session: Session, worker_id: str, job_ids: Collection[str], now: datetime, lease: timedelta
) -> int:
    """Extend to ``now + lease`` the leases of the RUNNING jobs ``job_ids`` that ``worker_id``
    holds (its heartbeat); returns how many."""
    result = session.connection().execute(
        update(_jobs)
        .where(
            _jobs.c.id.in_(list(job_ids)),
            _jobs.c.status == JobStatus.RUNNING,
            _jobs.c.locked_by == worker_id,
        )
        .values(locked_until=now + lease, run_at=now + lease)
    )
    return int(result.rowcount)


def renew_lease(job: Job, now: datetime, lease: timedelta) -> None:
    """Extend ``job``'s lease (its holder is known to be alive) to ``now + lease``."""
    job.locked_until = now + lease
    job.run_at = now + lease


def lock_rows(session: Session, job_ids: list[str]) -> dict[str, Job]:
    """The jobs ``job_ids``, read and locked in one statement (for :func:`claimed`)."""
    return {
        job.id: job
        for job in session.scalars(
            select(Job)
            .where(Job.id.in_(job_ids))
            .with_for_update()
            .execution_options(populate_existing=True)
        )
    }


def claimed(
    session: Session, job_id: str, worker_id: str, attempt: int, locked: Job | None = None
) -> Job | None:
    """The job, locked, if this worker's claim on it still holds (else another took it over).
    ``locked``: the row, read and locked already by :func:`lock_rows`."""
    job = locked or session.get(Job, job_id, with_for_update=True, populate_existing=True)
    if job is None or job.status is not JobStatus.RUNNING:
        return None
    if job.locked_by != worker_id or job.attempts != attempt:
        return None
    return job


_jobs: Table = Job.__table__  # type: ignore[assignment]


def finish_many(
    session: Session, claims: Collection[tuple[str, int]], worker_id: str, now: datetime
) -> set[str]:
    """Mark DONE, in one statement, the jobs of ``claims`` (id, attempt) that this worker's
    claim still holds (as :func:`claimed` then :func:`mark_done` do one job at a time); returns
    the ids it marked."""
    if not claims:
        return set()
    result = session.connection().execute(
        update(_jobs)
        .where(
            tuple_(_jobs.c.id, _jobs.c.attempts).in_(list(claims)),
            _jobs.c.status == JobStatus.RUNNING,
            _jobs.c.locked_by == worker_id,
        )
        .values(status=JobStatus.DONE, finished_at=now, locked_until=None, run_at=now)
        .returning(_jobs.c.id)
    )
    return set(result.scalars())


def mark_done(job: Job, now: datetime) -> None:
    job.status = JobStatus.DONE
    job.finished_at = now
    job.locked_until = None
    job.run_at = now


def mark_retry(job: Job, error: str, run_at: datetime) -> None:
    job.status = JobStatus.QUEUED
    job.last_error = error[:ERROR_LIMIT]
    job.locked_until = None
    job.run_at = run_at


def mark_failed(job: Job, error: str, now: datetime) -> None:
    job.status = JobStatus.FAILED
    job.last_error = error[:ERROR_LIMIT]
    job.finished_at = now
    job.locked_until = None
    job.run_at = now


def describe(exc: BaseException) -> str:
    """An exception as one line for ``last_error``."""
    text = str(exc).strip() or "(no message)"
    return f"{type(exc).__name__}: {text}"[:ERROR_LIMIT]


def get_job(session: Session, job_id: str) -> Job | None:
    return session.get(Job, job_id)
