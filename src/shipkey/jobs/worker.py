"""The worker: claims due jobs, runs their handlers outside any transaction, records outcomes.

Each job takes one short transaction to claim and one to finish (with what the handler
achieved); the handler's I/O happens in between, holding no lock. A worker killed mid-job loses
nothing: the job's lease expires and the job is claimed again (by this worker once restarted,
or by another).
"""

from __future__ import annotations

import logging
import os
import secrets
import signal
import socket
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta
from types import FrameType

from sqlalchemy.orm import Session

from shipkey.clock import utcnow
from shipkey.config import Settings
from shipkey.db.engine import Database
from shipkey.http.middleware import Foreground
from shipkey.jobs import service
from shipkey.jobs.models import Job, JobStatus
from shipkey.jobs.registry import (
    JobContext,
    PermanentError,
    Recorder,
    Registry,
    default_registry,
)
from shipkey.storage import Storage

log = logging.getLogger(__name__)

DEFAULT_LEASE = timedelta(minutes=5)
BATCH = 100


def worker_name() -> str:
    """``host:pid:random``: who holds a lease, readable in the ``jobs`` table."""
    return f"{_host()}:{os.getpid()}:{secrets.token_hex(4)}"


def _host() -> str:
    return socket.gethostname()[:60]


_names_here: set[str] = set()
"""The names of every worker made in this process."""


def holder_is_gone(locked_by: str | None) -> bool:
    """Whether the worker named ``locked_by`` is known to be dead: it ran on this host, in a
    process that no longer exists (or in this process, under a name no worker here has).
    Anything else (another host, a live process, a name of another form) is not known to be
    dead: its lease runs out instead."""
    host, _, rest = (locked_by or "").partition(":")
    pid_text = rest.partition(":")[0]
    if host != _host() or not pid_text.isdigit():
        return False
    pid = int(pid_text)
    if pid == os.getpid():
        return locked_by not in _names_here
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except OSError:  # alive, another user's
        return False
    return False


class Worker:
    """Runs jobs from the database. One thread per ``Worker``; run several for parallelism."""

    def __init__(
        self,
        settings: Settings,
        db: Database,
        storage: Storage,
        *,
        registry: Registry | None = None,
        clock: Callable[[], datetime] = utcnow,
        lease: timedelta = DEFAULT_LEASE,
        backoff: service.Backoff | None = None,
        poll_interval: float = 1.0,
        name: str | None = None,
        foreground: Foreground | None = None,
    ) -> None:
        self.ctx = JobContext(settings, db, storage, clock)
        self.registry = registry if registry is not None else default_registry()
        self.lease = lease
        self.backoff = backoff if backoff is not None else service.Backoff()
        self.poll_interval = poll_interval
        self.name = name or worker_name()
        _names_here.add(self.name)
        self.give_up = timedelta(hours=settings.give_up_hours)
        self._wake = threading.Event()
        self._stop: threading.Event | None = None
        self.foreground = foreground

    # --- the loop ---------------------------------------------------------------------------

    def run_once(self, limit: int = 1000) -> int:
        """Run the jobs that are due now, at most ``limit``; returns how many were attempted."""
        attempted = 0
        while attempted < limit and not self.stopping:
            if self.foreground is not None:
                self.foreground.give_way()
            job = self._claim()
            if job is None:
                break
            self._run(job)
            attempted += 1
        return attempted

    def run_forever(self, stop: threading.Event) -> None:
        """Run jobs until ``stop`` is set; poll every ``poll_interval`` s, or when woken."""
        self._stop = stop
        service.doorbell.subscribe(self._wake)
        log.info("worker %s started", self.name)
        try:
            self.recover_orphans()
            while not stop.is_set():
                self._wake.clear()
                if self._run_batch() < BATCH:
                    self._wake.wait(self.poll_interval)
        finally:
            service.doorbell.unsubscribe(self._wake)
            self.registry.stopped()
            log.info("worker %s stopped", self.name)

    def recover_orphans(self) -> int:
        """Make due now the running jobs whose worker died on this host (a server killed and
        started again): their leases would keep them waiting minutes for nothing. Each is then
        claimed as an interrupted attempt. Returns how many."""
        try:
            with self.ctx.db.session() as session:
                now = self.ctx.now()
                found = 0
                for job in service.running_jobs(session):
                    if job.run_at > now and holder_is_gone(job.locked_by):
                        log.warning(
                            "job %s (%s): its worker %s is gone; due again",
                            job.id,
                            job.kind,
                            job.locked_by,
                        )
                        job.run_at = now
                        found += 1
                return found
        except Exception:  # the database is away: the leases run out instead
            log.exception("worker %s: looking for interrupted jobs failed", self.name)
            return 0

    @property
    def stopping(self) -> bool:
        return self._stop is not None and self._stop.is_set()

    def wake(self) -> None:
        """Look for due jobs now instead of at the next poll (also used to stop promptly)."""
        self._wake.set()

    def _run_batch(self) -> int:
        try:
            return self.run_once(BATCH)
        except Exception:  # the database is away, or a bug: keep the worker alive
            log.exception("worker %s: the job loop failed; trying again", self.name)
            return 0

    # --- one job ----------------------------------------------------------------------------

    def _claim(self) -> Job | None:
        while True:
            with self.ctx.db.session() as session:
                now = self.ctx.now()
                job = service.next_due(session, now)
                if job is None:
                    return None
                if job.status is JobStatus.RUNNING and self._interrupted(session, job, now):
                    continue
                service.take(job, self.name, now, self.lease, self.give_up)
            return job

    def _interrupted(self, session: Session, job: Job, now: datetime) -> bool:
        """A job whose worker died mid-attempt; True when it is past its give-up time."""
        log.warning("job %s (%s): attempt %d was interrupted", job.id, job.kind, job.attempts)
        job.last_error = (
            f"Attempt {job.attempts} was interrupted: its worker stopped before finishing."
        )
        if job.give_up_at is not None and now >= job.give_up_at:
            self._fail(session, job, job.last_error, now)
            return True
        return False

    def _run(self, job: Job) -> None:
        job_type = self.registry.get(job.kind)
        try:
            if job_type is None:
                raise LookupError(f"no handler is registered for job kind {job.kind!r}")
            record = job_type.handler(self.ctx, job)
            self._finish_done(job, record)
        except PermanentError as exc:
            log.warning("job %s (%s) failed for good: %s", job.id, job.kind, exc)
            self._finish_failed(job, service.describe(exc), permanent=True)
        except Exception as exc:
            log.warning("job %s (%s) attempt %d failed: %s", job.id, job.kind, job.attempts, exc)
            self._finish_failed(job, service.describe(exc), permanent=False)

    def _finish_done(self, job: Job, record: Recorder | None) -> None:
        """DONE, with what the handler achieved (its recorder) in the same transaction."""
        with self.ctx.db.session() as session:
            if record is not None:
                record(session)
            row = service.claimed(session, job.id, self.name, job.attempts)
            if row is None:
                log.warning("job %s finished after its lease was taken over", job.id)
                return
            service.mark_done(row, self.ctx.now())

    def _finish_failed(self, job: Job, error: str, *, permanent: bool) -> None:
        with self.ctx.db.session() as session:
            row = service.claimed(session, job.id, self.name, job.attempts)
            if row is None:
                log.warning("job %s failed after its lease was taken over", job.id)
                return
            now = self.ctx.now()
            deadline = row.give_up_at or now
            if permanent or now >= deadline:
                self._fail(session, row, error, now)
            else:
                retry_at = min(now + self.backoff.delay(row.attempts), deadline)
                service.mark_retry(row, error, retry_at)

    def _fail(self, session: Session, job: Job, error: str, now: datetime) -> None:
        service.mark_failed(job, error, now)
        savepoint = session.begin_nested()
        try:
            self.registry.gave_up(session, self.ctx, job)
        except Exception:
            savepoint.rollback()
            log.exception("job %s: the give-up hooks failed", job.id)
        else:
            savepoint.commit()


def run_until_signalled(
    settings: Settings, db: Database, storage: Storage, *, threads: int = 1
) -> None:
    """``shipkey worker``: run ``threads`` workers until SIGTERM or SIGINT (twice: at once)."""
    stop = threading.Event()
    workers = [Worker(settings, db, storage) for _ in range(max(threads, 1))]

    def _on_signal(signum: int, _frame: FrameType | None) -> None:
        if stop.is_set():
            raise KeyboardInterrupt
        log.info("signal %d: finishing the current jobs, then stopping", signum)
        stop.set()
        for worker in workers:
            worker.wake()

    signal.signal(signal.SIGTERM, _on_signal)
    signal.signal(signal.SIGINT, _on_signal)
    runners = [
        threading.Thread(target=w.run_forever, args=(stop,), name=f"shipkey-worker-{i}")
        for i, w in enumerate(workers[1:], start=1)
    ]
    for runner in runners:
        runner.start()
    try:
        workers[0].run_forever(stop)
    finally:
        stop.set()
        for worker in workers:
            worker.wake()
        for runner in runners:
            runner.join()


EMBEDDED_THREADS = 8
"""Worker threads ``shipkey serve`` runs beside the web side. A delivery e-mail is mostly
waiting (a dozen database and SMTP round trips, and the interpreter lock after each while the
web side holds it): one thread sent about 26 a second on PostgreSQL while 50 orders a second
came in; several wait side by side (bench/README.md, payment to inbox). Each holds its own SMTP
connection; a process killed mid-send sends at most these few messages twice."""


@contextmanager
def background_worker(
    settings: Settings,
    db: Database,
    storage: Storage,
    *,
    enabled: bool = True,
    foreground: Foreground | None = None,
    threads: int = EMBEDDED_THREADS,
) -> Iterator[Worker | None]:
    """Workers in ``threads`` daemon threads for the duration of the block (``shipkey serve``'s
    embedded worker), giving way to the requests ``foreground`` counts; on exit they finish
    their current jobs and stop. Yields the first worker."""
    if not enabled:
        yield None
        return
    stop = threading.Event()
    workers = [Worker(settings, db, storage, foreground=foreground) for _ in range(threads)]
    runners = [
        threading.Thread(
            target=worker.run_forever, args=(stop,), name=f"shipkey-worker-{index}", daemon=True
        )
        for index, worker in enumerate(workers)
    ]
    for runner in runners:
        runner.start()
    try:
        yield workers[0]
    finally:
        stop.set()
        for worker in workers:
            worker.wake()
        for runner in runners:
            runner.join(timeout=60)
