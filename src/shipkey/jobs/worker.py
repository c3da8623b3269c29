"""The worker: claims due jobs, runs their handlers outside any transaction, records outcomes.

Each job takes one short transaction to claim and one to finish (with what the handler
achieved); the handler's I/O happens in between, holding no lock. A worker killed mid-job loses
nothing: the job's lease expires and the job is claimed again (by this worker once restarted,
or by another). Leases are short and renewed while their jobs run (a heartbeat every third of
a lease), so a job whose worker died elsewhere waits about a minute, not five; one whose worker
died on this host is taken back at once when a worker starts (:meth:`Worker.recover_orphans`).
"""

from __future__ import annotations

import logging
import os
import queue
import secrets
import signal
import socket
import threading
from collections.abc import Callable, Iterable, Iterator
from concurrent import futures
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from types import FrameType

from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError
from sqlalchemy.orm import Session

from shipkey.clock import utcnow
from shipkey.config import Settings
from shipkey.db.engine import Database
from shipkey.http.middleware import Foreground
from shipkey.jobs import service
from shipkey.jobs.models import Job, JobStatus
from shipkey.jobs.registry import (
    GroupRecorder,
    JobContext,
    PermanentError,
    Recorder,
    Registry,
    default_registry,
)
from shipkey.storage import Storage

log = logging.getLogger(__name__)

DEFAULT_LEASE = timedelta(minutes=1)
"""How long a claimed job is its worker's; renewed every third of it while the job runs."""
BATCH = 100
QUEUED_PER_THREAD = 4


def worker_name() -> str:
    """``host:pid:random``: who holds a lease, readable in the ``jobs`` table."""
    return f"{_host()}:{os.getpid()}:{secrets.token_hex(4)}"


def _host() -> str:
    return socket.gethostname()[:60]


_names_here: set[str] = set()
"""The names of every worker made in this process."""

_running_here: dict[str, Worker] = {}
"""The workers whose loop runs in this process now, by name: alive, so a job one of them holds
is never another's to take, even when its lease ran out while the database was away and its
heartbeat could not renew it (the outcome it keeps is recorded once the database is back)."""


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
        on_backlog: Callable[[], None] | None = None,
    ) -> None:
        self.ctx = JobContext(settings, db, storage, clock)
        self.on_backlog = on_backlog
        """Called once, the first time one pass of the loop finds more than one job due."""
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
        self._threads = self.registry.concurrent_kinds()
        # Claimed and not yet recorded, per pooled kind: enough queued behind the threads that
        # claims and records come in batches rather than one job at a time.
        self._capacity = {kind: QUEUED_PER_THREAD * n for kind, n in self._threads.items()}
        self._inflight = dict.fromkeys(self._capacity, 0)
        self._inflight_lock = threading.Lock()
        self._pools: dict[str, ThreadPoolExecutor] = {}
        self._pending: set[futures.Future[None]] = set()
        self._finished: queue.SimpleQueue[tuple[Job, Outcome]] = queue.SimpleQueue()
        # Outcomes that could not be recorded (the database was away): kept, and recorded
        # before anything else once it answers again, so that the jobs are not left RUNNING
        # until their leases run out (a sent e-mail would then be sent again).
        self._unrecorded: list[tuple[Job, Outcome]] = []
        self._held_ids: set[str] = set()

    # --- the loop ---------------------------------------------------------------------------

    def run_once(self, limit: int = 1000, *, wait: bool = True) -> int:
        """Run the jobs that are due now, at most about ``limit``; returns how many were
        attempted. Jobs of concurrent kinds go to their pools; with ``wait`` the call returns
        once they have finished and been recorded too."""
        attempted = 0
        while attempted < limit and not self.stopping:
            if self.foreground is not None:
                self.foreground.give_way()
            self._record_finished()
            jobs = self._claim()
            if not jobs:
                break
            if self.on_backlog is not None and (attempted or len(jobs) > 1):
                backlog, self.on_backlog = self.on_backlog, None
                backlog()
            self._prefetch(jobs)
            for job in jobs:
                if job.kind in self._capacity:
                    self._submit(job)
                else:
                    self._run(job)
            attempted += len(jobs)
        if wait:
            self._settle()
        else:
            self._record_finished()
        return attempted

    def run_forever(self, stop: threading.Event) -> None:
        """Run jobs until ``stop`` is set; poll every ``poll_interval`` s, or when woken."""
        self._stop = stop
        service.doorbell.subscribe(self._wake)
        log.info("worker %s started", self.name)
        _running_here[self.name] = self
        self.registry.started(self.ctx)
        beating = threading.Event()
        heart = threading.Thread(
            target=self._heartbeat, args=(beating,), name=f"{threading.current_thread().name}-lease"
        )
        heart.start()
        try:
            self.recover_orphans()
            while not stop.is_set():
                self._wake.clear()
                if self._run_batch() < BATCH:
                    self._wake.wait(self.poll_interval)
        finally:
            service.doorbell.unsubscribe(self._wake)
            try:
                self._settle()
            except Exception:
                log.exception("worker %s: recording the last concurrent jobs failed", self.name)
            for pool in self._pools.values():
                pool.shutdown(wait=True)
            self._pools.clear()
            beating.set()  # the leases are renewed until the last job under way has finished
            heart.join()
            self.registry.stopped()
            _running_here.pop(self.name, None)
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

    def _heartbeat(self, stop: threading.Event) -> None:
        """Renew the leases of the jobs this worker holds, every third of a lease, until
        ``stop`` is set (a renewal the database cannot take is tried at the next beat). Only
        those: a job whose claim reached the database but not this worker (the connection
        broke at the commit) names it too, and must become due to others when its lease ends."""
        every = self.lease.total_seconds() / 3
        while not stop.wait(every):
            with self._inflight_lock:
                held = sorted(self._held_ids)
            if not held:
                continue
            try:
                with self.ctx.db.session() as session:
                    service.renew_leases(session, self.name, held, self.ctx.now(), self.lease)
            except Exception as exc:
                log.warning("worker %s: renewing its leases failed: %s", self.name, exc)

    @property
    def stopping(self) -> bool:
        return self._stop is not None and self._stop.is_set()

    def wake(self) -> None:
        """Look for due jobs now instead of at the next poll (also used to stop promptly)."""
        self._wake.set()

    def _run_batch(self) -> int:
        try:
            return self.run_once(BATCH, wait=False)
        except Exception:  # the database is away, or a bug: keep the worker alive
            log.exception("worker %s: the job loop failed; trying again", self.name)
            return 0

    # --- claiming ---------------------------------------------------------------------------

    def _claim(self) -> list[Job]:
        """One due job, and with it more of its kind when that kind runs in a pool; held by
        this worker (:meth:`holds`) once the claim is committed, until its outcome is
        recorded."""
        jobs = self._claim_due()
        with self._inflight_lock:
            self._held_ids.update(job.id for job in jobs)
        return jobs

    def holds(self, job_id: str) -> bool:
        """Whether this worker claimed ``job_id`` and has not recorded its outcome yet."""
        with self._inflight_lock:
            return job_id in self._held_ids

    def _recorded(self, job_ids: Iterable[str]) -> None:
        with self._inflight_lock:
            self._held_ids.difference_update(job_ids)

    def _claim_due(self) -> list[Job]:
        while True:
            with self.ctx.db.session() as session:
                now = self.ctx.now()
                with self._inflight_lock:
                    free = {k: cap - self._inflight[k] for k, cap in self._capacity.items()}
                busy = [kind for kind, left in free.items() if left <= 0]
                job = service.next_due(session, now, busy)
                if job is None:
                    return []
                if job.status is JobStatus.RUNNING:
                    holder = _running_here.get(job.locked_by or "")
                    if holder is not None and holder.holds(job.id):  # alive: lease renewed
                        service.renew_lease(job, now, self.lease)
                        continue
                    if self._interrupted(session, job, now):
                        continue
                jobs = [job]
                if free.get(job.kind, 0) > 1:
                    more = service.more_due(session, job.kind, now, free[job.kind])
                    jobs += [other for other in more if other.id != job.id][: free[job.kind] - 1]
                for claimed in jobs:
                    service.take(claimed, self.name, now, self.lease, self.give_up)
            return jobs

    def _prefetch(self, jobs: list[Job]) -> None:
        """What a pooled kind's handlers need, read for the whole batch in one statement (when
        the kind says how); a failure only leaves each handler to read its own."""
        job_type = self.registry.get(jobs[0].kind)
        if job_type is None or job_type.prefetch is None or job_type.kind not in self._capacity:
            return
        try:
            with self.ctx.db.read_connection() as connection:
                self.ctx.keep_prefetched(job_type.prefetch(connection, jobs))
        except Exception:
            log.exception("job kind %s: reading a batch's data failed", job_type.kind)

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

    # --- one job ----------------------------------------------------------------------------

    def _handle(self, job: Job) -> Outcome:
        """Run ``job``'s handler (no transaction is open); what came of it."""
        job_type = self.registry.get(job.kind)
        try:
            if job_type is None:
                raise LookupError(f"no handler is registered for job kind {job.kind!r}")
            return Outcome(record=job_type.handler(self.ctx, job))
        except PermanentError as exc:
            log.warning("job %s (%s) failed for good: %s", job.id, job.kind, exc)
            return Outcome(error=service.describe(exc), permanent=True)
        except Exception as exc:
            log.warning("job %s (%s) attempt %d failed: %s", job.id, job.kind, job.attempts, exc)
            return Outcome(error=service.describe(exc))

    def _run(self, job: Job) -> None:
        outcome = self._handle(job)
        try:
            self._finish(job, outcome)
        except Exception:
            self._keep_unrecorded([(job, outcome)])
            raise

    def _keep_unrecorded(self, outcomes: list[tuple[Job, Outcome]]) -> None:
        """Keep ``outcomes`` to record them at the next pass, until their jobs' give-up time:
        an outcome that cannot be recorded by then (the database away for hours, or an error
        that lasts) is let go, so that its lease runs out and the job fails for good, with the
        seller alerted, instead of staying RUNNING."""
        now = self.ctx.now()
        kept = [(j, o) for j, o in outcomes if j.give_up_at is None or now < j.give_up_at]
        dropped = [j.id for j, _ in outcomes if j.give_up_at is not None and now >= j.give_up_at]
        if dropped:
            log.error("worker %s: outcomes of jobs %s could not be recorded", self.name, dropped)
            self._recorded(dropped)
        if kept:
            log.warning(
                "worker %s: %d job outcome(s) kept until the database answers again",
                self.name,
                len(kept),
            )
        self._unrecorded.extend(kept)

    def _finish(self, job: Job, outcome: Outcome) -> None:
        """Record ``outcome`` in a transaction of its own; a recorder that fails makes it a
        failed attempt (and what it wrote is rolled back). A database that does not answer
        raises instead: the outcome is kept as it is, since recording a success as a failed
        attempt would do the job's I/O again (the database may be back a moment later)."""
        if outcome.error is None:
            try:
                with self.ctx.db.session() as session:
                    self._record(session, job, outcome)
                self._recorded([job.id])
                return
            except Exception as exc:
                log.warning("job %s (%s): recording it failed: %s", job.id, job.kind, exc)
                if database_away(exc):
                    raise
                outcome = Outcome(error=service.describe(exc))
        with self.ctx.db.session() as session:
            self._record(session, job, outcome)
        self._recorded([job.id])

    def _record(
        self, session: Session, job: Job, outcome: Outcome, locked: Job | None = None
    ) -> None:
        """Write what came of ``job`` in ``session``: DONE with its recorder, or a retry, or
        FAILED."""
        if outcome.error is None:
            if outcome.record is not None:
                outcome.record(session)
            row = service.claimed(session, job.id, self.name, job.attempts, locked)
            if row is None:
                log.warning("job %s finished after its lease was taken over", job.id)
                return
            service.mark_done(row, self.ctx.now())
            return
        row = service.claimed(session, job.id, self.name, job.attempts, locked)
        if row is None:
            log.warning("job %s failed after its lease was taken over", job.id)
            return
        now = self.ctx.now()
        deadline = row.give_up_at or now
        if outcome.permanent or now >= deadline:
            self._fail(session, row, outcome.error, now)
        else:
            retry_at = min(now + self.backoff.delay(row.attempts), deadline)
            service.mark_retry(row, outcome.error, retry_at)

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

    # --- jobs run in pools ------------------------------------------------------------------

    def _submit(self, job: Job) -> None:
        pool = self._pools.get(job.kind)
        if pool is None:
            pool = ThreadPoolExecutor(
                max_workers=self._threads[job.kind], thread_name_prefix=f"shipkey-{job.kind}"
            )
            self._pools[job.kind] = pool
        with self._inflight_lock:
            self._inflight[job.kind] += 1
        self._pending.add(pool.submit(self._run_pooled, job))

    def _run_pooled(self, job: Job) -> None:
        outcome = Outcome(error="the job's thread stopped unexpectedly")
        try:
            outcome = self._handle(job)
        finally:
            self.ctx.prefetched(job.id)  # not left behind when the handler did not take it
            self._finished.put((job, outcome))
            with self._inflight_lock:
                self._inflight[job.kind] -= 1
                left = self._inflight[job.kind]
            if left <= self._capacity[job.kind] // 2:  # room for a batch: claim and record
                self._wake.set()

    def _record_finished(self) -> None:
        """Record every pooled job that has finished, in one transaction for all of them (one
        at a time if that transaction fails, so that one bad recorder costs only its job)."""
        finished, self._unrecorded = self._unrecorded, []
        while True:
            try:
                finished.append(self._finished.get_nowait())
            except queue.Empty:
                break
        self._pending = {future for future in self._pending if not future.done()}
        if not finished:
            return
        try:
            with self.ctx.db.session() as session:
                self._record_together(session, finished)
            self._recorded(job.id for job, _ in finished)
            return
        except Exception:
            log.exception("recording %d jobs together failed; one at a time", len(finished))
        kept: list[tuple[Job, Outcome]] = []
        for job, outcome in finished:
            try:
                self._finish(job, outcome)
            except Exception:
                log.exception("job %s: recording its outcome failed", job.id)
                kept.append((job, outcome))
        if kept:
            self._keep_unrecorded(kept)

    def _record_together(self, session: Session, finished: list[tuple[Job, Outcome]]) -> None:
        """What came of ``finished``, in ``session``, in few statements: the recorders that
        write for many jobs at once called once per class (one executemany), the others one by
        one; the jobs that succeeded marked DONE by one UPDATE (those whose claim still holds);
        the failed ones read and locked by one statement and recorded each as :meth:`_record`
        does. The recorders run even for a job whose lease was taken over (its I/O happened)."""
        done = [(job, outcome) for job, outcome in finished if outcome.error is None]
        failed = [(job, outcome) for job, outcome in finished if outcome.error is not None]
        if done:  # the job rows first, locked as one at a time locks them
            claims = {(job.id, job.attempts) for job, _ in done}
            marked = service.finish_many(session, claims, self.name, self.ctx.now())
            for job, _ in done:
                if job.id not in marked:
                    log.warning("job %s finished after its lease was taken over", job.id)
        groups: dict[type[GroupRecorder], list[GroupRecorder]] = {}
        for _job, outcome in done:
            if isinstance(outcome.record, GroupRecorder):
                groups.setdefault(type(outcome.record), []).append(outcome.record)
            elif outcome.record is not None:
                outcome.record(session)
        for cls, recorders in groups.items():
            cls.record_group(session, recorders)
        if failed:
            rows = service.lock_rows(session, [job.id for job, _ in failed])
            for job, outcome in failed:
                self._record(session, job, outcome, rows.get(job.id))

    def _settle(self) -> None:
        """Wait for the pooled jobs under way and record them."""
        while self._pending:
            futures.wait(list(self._pending))
            self._record_finished()
        self._record_finished()


def database_away(exc: BaseException) -> bool:
    """Whether ``exc`` says the database did not answer (down, unreachable, a connection lost,
    SQLite's lock not free in time) rather than that it refused what was written."""
    if isinstance(exc, OperationalError | InterfaceError | ConnectionError):
        return True
    return isinstance(exc, DBAPIError) and exc.connection_invalidated


@dataclass(frozen=True)
class Outcome:
    """What came of running a job: its recorder, or the error and whether retrying can help."""

    record: Recorder | None = None
    error: str | None = None
    permanent: bool = False


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
    """Workers in up to ``threads`` daemon threads for the duration of the block (``shipkey
    serve``'s embedded worker), giving way to the requests ``foreground`` counts; on exit they
    finish their current jobs and stop. Yields the first worker.

    One worker starts with the block; the others start the first time it finds more than one
    job due in a pass (a burst of orders, a backlog after a restart) and then stay. An idle
    server keeps one thread, one pooled connection and one thread's heap instead of eight
    (about 0.5 MiB each, bench/README.md "Footprint")."""
    if not enabled:
        yield None
        return
    stop = threading.Event()
    lock = threading.Lock()
    workers: list[Worker] = []
    runners: list[threading.Thread] = []

    def start(worker: Worker) -> None:
        runner = threading.Thread(
            target=worker.run_forever,
            args=(stop,),
            name=f"shipkey-worker-{len(runners)}",
            daemon=True,
        )
        workers.append(worker)
        runners.append(runner)
        runner.start()

    def start_the_others() -> None:
        with lock:
            if stop.is_set() or len(workers) > 1:
                return
            for _ in range(threads - 1):
                start(Worker(settings, db, storage, foreground=foreground))
            log.info("%d more worker threads started", threads - 1)

    first = Worker(
        settings,
        db,
        storage,
        foreground=foreground,
        on_backlog=start_the_others if threads > 1 else None,
    )
    with lock:
        start(first)
    try:
        yield first
    finally:
        with lock:
            stop.set()
            started = list(zip(workers, runners, strict=True))
        for worker, _runner in started:
            worker.wake()
        for _worker, runner in started:
            runner.join(timeout=60)
