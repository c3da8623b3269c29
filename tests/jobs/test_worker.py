"""The job queue: run, retry with backoff, give up, leases, dedupe, waking."""

from __future__ import annotations

import os
import socket
import subprocess
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import Connection, event, func, select
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session

from shipkey.clock import utcnow
from shipkey.config import Settings
from shipkey.db.engine import Database
from shipkey.http.middleware import Foreground
from shipkey.jobs import service as jobs
from shipkey.jobs.models import Job, JobStatus
from shipkey.jobs.registry import (
    GroupRecorder,
    JobContext,
    PermanentError,
    Recorder,
    Registry,
)
from shipkey.jobs.worker import DEFAULT_LEASE, Worker, background_worker, holder_is_gone
from shipkey.mail.models import MailKind, MailMessage
from shipkey.storage import Storage
from tests.jobs.helpers import Clock, wait_for
from tests.mail.helpers import ADMIN_EMAIL


class Crash(BaseException):
    """Stands in for a worker dying mid-job: nothing after it runs."""


def _enqueue(db: Database, kind: str, payload: dict[str, Any] | None = None, **kw: Any) -> str:
    with db.session() as session:
        return jobs.enqueue(session, kind, payload or {}, **kw).id


def _job(db: Database, job_id: str) -> Job:
    with db.read_session() as session:
        job = session.get(Job, job_id)
        assert job is not None
        return job


def _alerts(db: Database) -> list[MailMessage]:
    with db.read_session() as session:
        query = select(MailMessage).where(MailMessage.kind == MailKind.SELLER_ALERT)
        return list(session.scalars(query))


def test_a_job_runs_once_with_its_payload(
    settings: Settings, db: Database, storage: Storage, registry: Registry, clock: Clock
) -> None:
    seen: list[dict[str, Any]] = []
    registry.register("test.echo", lambda _ctx, job: seen.append(job.payload))
    job_id = _enqueue(db, "test.echo", {"n": 1})
    worker = Worker(settings, db, storage, registry=registry, clock=clock)

    assert worker.run_once() == 1
    assert worker.run_once() == 0
    assert seen == [{"n": 1}]
    done = _job(db, job_id)
    assert done.status is JobStatus.DONE
    assert done.attempts == 1
    assert done.finished_at == clock.now
    assert done.locked_until is None


def _follow(session: Session, kind: str) -> None:
    """A trace of a recorder: a job that is not due (so no worker here runs it)."""
    jobs.enqueue(session, kind, {}, run_at=utcnow() + timedelta(days=30))


def _followers(db: Database) -> list[str]:
    with db.read_session() as session:
        return list(session.scalars(select(Job.kind).where(Job.kind.like("test.follow%"))))


def test_what_a_handler_returns_is_written_in_the_transaction_that_finishes_its_job(
    settings: Settings, db: Database, storage: Storage, registry: Registry, clock: Clock
) -> None:
    registry.register(
        "test.record", lambda _ctx, _job: lambda session: _follow(session, "test.follow")
    )
    job_id = _enqueue(db, "test.record")
    worker = Worker(settings, db, storage, registry=registry, clock=clock)
    begun: list[object] = []

    def count(conn: object) -> None:
        begun.append(conn)

    event.listen(db.engine, "begin", count)
    try:
        assert worker.run_once(limit=1) == 1
    finally:
        event.remove(db.engine, "begin", count)

    assert len(begun) == 2  # the claim, and the finish with what the handler achieved
    assert _job(db, job_id).status is JobStatus.DONE
    assert _followers(db) == ["test.follow"]


def test_a_recorder_that_fails_is_a_failed_attempt_and_writes_nothing(
    settings: Settings, db: Database, storage: Storage, registry: Registry, clock: Clock
) -> None:
    def record(session: Session) -> None:
        _follow(session, "test.follow")
        raise RuntimeError("cannot record")

    registry.register("test.record", lambda _ctx, _job: record)
    job_id = _enqueue(db, "test.record")
    worker = Worker(settings, db, storage, registry=registry, clock=clock)

    assert worker.run_once() == 1
    waiting = _job(db, job_id)
    assert waiting.status is JobStatus.QUEUED
    assert waiting.last_error == "RuntimeError: cannot record"
    assert _followers(db) == []


def test_dedupe_key_makes_enqueue_idempotent(db: Database) -> None:
    first = _enqueue(db, "test.echo", dedupe_key="order-1")
    again = _enqueue(db, "test.echo", dedupe_key="order-1")
    other = _enqueue(db, "test.echo", dedupe_key="order-2")
    assert first == again != other
    with db.read_session() as session:
        assert session.scalar(select(func.count()).select_from(Job)) == 2


def test_backoff_doubles_with_jitter_up_to_the_cap() -> None:
    backoff = jobs.Backoff()
    assert backoff.delay(1, rand=0) == timedelta(seconds=5)
    assert backoff.delay(1, rand=1) == timedelta(seconds=4)
    assert backoff.delay(3, rand=0) == timedelta(seconds=20)
    assert backoff.delay(40, rand=0) == timedelta(minutes=30)
    assert all(backoff.delay(n) <= timedelta(minutes=30) for n in range(1, 60))


def test_a_failing_job_is_retried_after_its_backoff(
    settings: Settings, db: Database, storage: Storage, registry: Registry, clock: Clock
) -> None:
    failures = [RuntimeError("first"), RuntimeError("second")]

    def flaky(_ctx: JobContext, _job: Job) -> None:
        if failures:
            raise failures.pop(0)

    registry.register("test.flaky", flaky)
    job_id = _enqueue(db, "test.flaky")
    worker = Worker(settings, db, storage, registry=registry, clock=clock)

    assert worker.run_once() == 1
    waiting = _job(db, job_id)
    assert waiting.status is JobStatus.QUEUED
    assert waiting.last_error == "RuntimeError: first"
    assert clock.now + timedelta(seconds=4) <= waiting.run_at <= clock.now + timedelta(seconds=5)
    assert worker.run_once() == 0

    clock.now = waiting.run_at
    assert worker.run_once() == 1
    clock.now = _job(db, job_id).run_at
    assert worker.run_once() == 1
    done = _job(db, job_id)
    assert done.status is JobStatus.DONE
    assert done.attempts == 3


def test_a_permanent_error_fails_at_once_and_alerts_the_seller(
    settings: Settings, db: Database, storage: Storage, registry: Registry, clock: Clock
) -> None:
    gave_up: list[str] = []

    def hopeless(_ctx: JobContext, _job: Job) -> None:
        raise PermanentError("the product was deleted")

    def on_give_up(_session: Session, _ctx: JobContext, job: Job) -> None:
        gave_up.append(job.id)

    registry.register("test.hopeless", hopeless, on_give_up=on_give_up)
    job_id = _enqueue(db, "test.hopeless")
    configured = settings.model_copy(update={"admin_email": ADMIN_EMAIL})

    Worker(configured, db, storage, registry=registry, clock=clock).run_once()

    failed = _job(db, job_id)
    assert failed.status is JobStatus.FAILED
    assert failed.attempts == 1
    assert failed.last_error == "PermanentError: the product was deleted"
    assert gave_up == [job_id]
    [alert] = _alerts(db)
    assert alert.to_address == ADMIN_EMAIL
    assert alert.subject == "Background job failed: test.hopeless"
    assert "the product was deleted" in alert.text_body


def test_a_failing_give_up_hook_still_fails_the_job(
    settings: Settings, db: Database, storage: Storage, registry: Registry, clock: Clock
) -> None:
    def hopeless(_ctx: JobContext, _job: Job) -> None:
        raise PermanentError("no")

    def broken_hook(_session: Session, _ctx: JobContext, _job: Job) -> None:
        raise RuntimeError("hook bug")

    registry.register("test.hopeless", hopeless, on_give_up=broken_hook)
    job_id = _enqueue(db, "test.hopeless")
    Worker(settings, db, storage, registry=registry, clock=clock).run_once()
    assert _job(db, job_id).status is JobStatus.FAILED


def test_an_unknown_kind_is_retried_not_lost(
    settings: Settings, db: Database, storage: Storage, registry: Registry, clock: Clock
) -> None:
    job_id = _enqueue(db, "test.from-a-newer-version")
    Worker(settings, db, storage, registry=registry, clock=clock).run_once()
    waiting = _job(db, job_id)
    assert waiting.status is JobStatus.QUEUED
    assert waiting.last_error is not None
    assert "no handler" in waiting.last_error


def test_explicit_give_up_and_run_at(
    settings: Settings, db: Database, storage: Storage, registry: Registry, clock: Clock
) -> None:
    registry.register("test.echo", lambda _ctx, _job: None)
    later = clock.now + timedelta(hours=2)
    job_id = _enqueue(db, "test.echo", run_at=later, give_up_after=timedelta(hours=1))
    assert _job(db, job_id).give_up_at == later + timedelta(hours=1)
    worker = Worker(settings, db, storage, registry=registry, clock=clock)
    assert worker.run_once() == 0
    clock.now = later
    assert worker.run_once() == 1


def test_an_expired_lease_is_claimed_again_and_the_late_finish_ignored(
    settings: Settings, db: Database, storage: Storage, registry: Registry, clock: Clock
) -> None:
    later = Clock()
    later.now = clock.now + DEFAULT_LEASE + timedelta(seconds=1)
    runs: list[str] = []
    first = Worker(settings, db, storage, registry=registry, clock=clock, name="first")
    second = Worker(settings, db, storage, registry=registry, clock=later, name="second")

    def slow(ctx: JobContext, _job: Job) -> Recorder:
        name = "first" if ctx.clock is clock else "second"
        runs.append(name)
        if len(runs) == 1:  # the first worker is "stuck" past its lease: the second takes over
            assert second.run_once() == 1
        return lambda session: _follow(session, f"test.follow.{name}")

    registry.register("test.slow", slow)
    job_id = _enqueue(db, "test.slow")
    assert first.run_once() == 1

    assert runs == ["first", "second"]
    # What each attempt achieved is recorded, the late one's too: its work did happen.
    assert sorted(_followers(db)) == ["test.follow.first", "test.follow.second"]
    done = _job(db, job_id)
    assert done.status is JobStatus.DONE
    assert done.attempts == 2
    assert done.locked_by == "second"
    assert done.last_error is not None
    assert "interrupted" in done.last_error


def test_a_crashed_job_past_its_give_up_time_fails_without_running(
    settings: Settings, db: Database, storage: Storage, registry: Registry, clock: Clock
) -> None:
    runs: list[int] = []

    def crashes(_ctx: JobContext, job: Job) -> None:
        runs.append(job.attempts)
        raise Crash

    registry.register("test.crashes", crashes)
    job_id = _enqueue(db, "test.crashes")
    worker = Worker(settings, db, storage, registry=registry, clock=clock)
    with pytest.raises(Crash):
        worker.run_once()
    assert _job(db, job_id).status is JobStatus.RUNNING

    clock.advance(hours=settings.give_up_hours + 1)
    assert worker.run_once() == 0
    failed = _job(db, job_id)
    assert failed.status is JobStatus.FAILED
    assert failed.last_error is not None
    assert "interrupted" in failed.last_error
    assert runs == [1]


def test_run_forever_wakes_when_a_job_is_enqueued_and_stops(
    settings: Settings, db: Database, storage: Storage, registry: Registry
) -> None:
    done = threading.Event()
    registry.register("test.ping", lambda _ctx, _job: done.set())
    stopped_in: list[str] = []
    registry.on_stop(lambda: stopped_in.append(threading.current_thread().name))

    def failing() -> None:
        raise RuntimeError("a failing hook is logged; the others still run")

    registry.on_stop(failing)
    registry.on_stop(lambda: stopped_in.append("after the failing one"))
    worker = Worker(settings, db, storage, registry=registry, poll_interval=300)
    stop = threading.Event()
    thread = threading.Thread(target=worker.run_forever, args=(stop,), name="the worker")
    thread.start()
    try:
        _enqueue(db, "test.ping")
        assert done.wait(15)  # long before the next poll
        assert stopped_in == []
    finally:
        stop.set()
        worker.wake()
        thread.join(15)
    assert not thread.is_alive()
    assert stopped_in == ["the worker", "after the failing one"]  # in the worker's own thread


def test_the_app_runs_an_embedded_worker(
    settings: Settings, db: Database, storage: Storage
) -> None:
    from fastapi.testclient import TestClient

    from shipkey.app import create_app
    from shipkey.mail import service as mail
    from shipkey.mail.models import MailStatus

    app = create_app(settings, db=db, storage=storage, run_worker=True)
    with TestClient(app) as client:
        assert client.get("/healthz").status_code == 200
        with db.session() as session:
            message_id = mail.queue_login(session, settings, "a@example.com", "de", "http://x/l").id

        def sent() -> bool:
            with db.read_session() as session:
                row = session.get(MailMessage, message_id)
                return row is not None and row.status is MailStatus.SENT

        assert wait_for(sent)
    assert not any(t.name.startswith("shipkey-worker") for t in threading.enumerate())


def test_a_pass_that_finds_more_than_one_job_due_reports_a_backlog_once(
    settings: Settings, db: Database, storage: Storage, registry: Registry, clock: Clock
) -> None:
    registry.register("test.nothing", lambda _ctx, _job: None)
    backlogs: list[str] = []
    worker = Worker(
        settings,
        db,
        storage,
        registry=registry,
        clock=clock,
        on_backlog=lambda: backlogs.append("backlog"),
    )
    _enqueue(db, "test.nothing")
    assert worker.run_once() == 1
    assert backlogs == []  # one job at a time is no backlog
    for _ in range(3):
        _enqueue(db, "test.nothing")
    assert worker.run_once() == 3
    assert backlogs == ["backlog"]
    for _ in range(3):
        _enqueue(db, "test.nothing")
    assert worker.run_once() == 3
    assert backlogs == ["backlog"]  # once


def test_the_embedded_worker_starts_its_other_threads_at_a_backlog(
    settings: Settings, db: Database, storage: Storage
) -> None:
    def workers() -> list[threading.Thread]:
        return [
            t
            for t in threading.enumerate()
            if t.name.startswith("shipkey-worker") and not t.name.endswith("-lease")
        ]

    with background_worker(settings, db, storage, threads=3) as first:
        assert first is not None
        assert len(workers()) in (1, 3)  # 3 when the daily jobs were due at once
        with db.session() as session:  # four due at once; no handler: each waits for a retry
            for _ in range(4):
                jobs.enqueue(session, "test.unknown-kind", {})
        first.wake()
        assert wait_for(lambda: len(workers()) == 3)
    assert not workers()


# --- giving way to requests ----------------------------------------------------------------


def test_give_way_returns_at_once_when_no_request_is_being_worked_on() -> None:
    started = time.monotonic()
    Foreground().give_way(longest=5)
    assert time.monotonic() - started < 1


def test_give_way_waits_for_the_last_request_or_its_longest() -> None:
    foreground = Foreground()
    foreground.enter()
    foreground.enter()
    started = time.monotonic()
    foreground.give_way(longest=0.2)  # nobody leaves: it waits its longest, then returns
    assert time.monotonic() - started >= 0.19

    returned = threading.Event()

    def wait() -> None:
        foreground.give_way(longest=30)
        returned.set()

    waiter = threading.Thread(target=wait)
    waiter.start()
    foreground.leave()
    assert not returned.wait(0.2)  # one request is still being worked on
    foreground.leave()
    assert returned.wait(15)  # the last one left: long before its 30 s
    waiter.join()


def test_the_embedded_worker_gives_way_before_each_job(
    settings: Settings, db: Database, storage: Storage, registry: Registry
) -> None:
    order: list[str] = []

    class Counted(Foreground):
        def give_way(self, longest: float = 0.05) -> None:
            order.append("give way")

    registry.register("test.ping", lambda _ctx, _job: order.append("job"))
    worker = Worker(settings, db, storage, registry=registry, foreground=Counted())
    _enqueue(db, "test.ping")
    _enqueue(db, "test.ping")
    assert worker.run_once() == 2
    assert order == ["give way", "job", "give way", "job", "give way"]  # the last found none


def test_the_served_app_counts_requests_for_its_embedded_worker(
    settings: Settings, db: Database, storage: Storage
) -> None:
    from shipkey.app import create_app
    from shipkey.http.middleware import ForegroundMiddleware

    def counted(run_worker: bool) -> bool:
        app = create_app(settings, db=db, storage=storage, run_worker=run_worker)
        layers: list[object] = [layer.cls for layer in app.app.user_middleware]
        return ForegroundMiddleware in layers

    assert counted(True)
    assert not counted(False)  # no embedded worker, nothing to give way to


# --- workers that died on this host --------------------------------------------------------


def test_a_job_whose_worker_process_died_here_is_due_at_once_not_after_its_lease(
    settings: Settings, db: Database, storage: Storage, registry: Registry, clock: Clock
) -> None:
    runs: list[int] = []

    def crashes_first(_ctx: JobContext, job: Job) -> None:
        runs.append(job.attempts)
        if job.attempts == 1:
            raise Crash

    registry.register("test.crashes_first", crashes_first)
    job_id = _enqueue(db, "test.crashes_first")
    process = subprocess.Popen(["true"])
    process.wait()
    dead = Worker(
        settings,
        db,
        storage,
        registry=registry,
        clock=clock,
        name=f"{socket.gethostname()[:60]}:{process.pid}:0badc0de",
    )
    with pytest.raises(Crash):
        dead.run_once()
    assert _job(db, job_id).status is JobStatus.RUNNING

    alive_elsewhere = f"{socket.gethostname()[:60]}:{os.getpid()}:0badc0de"
    assert holder_is_gone(alive_elsewhere)  # this process, but no worker here has that name
    assert not holder_is_gone(f"{socket.gethostname()[:60]}:1:0badc0de")  # a live process
    assert not holder_is_gone(f"another-host:{process.pid}:0badc0de")
    assert not holder_is_gone(dead.name.replace(":", "-"))

    heir = Worker(settings, db, storage, registry=registry, clock=clock)
    assert heir.run_once() == 0  # the lease has not run out
    assert heir.recover_orphans() == 1
    assert heir.run_once() == 1
    done = _job(db, job_id)
    assert done.status is JobStatus.DONE
    assert done.last_error is not None
    assert "interrupted" in done.last_error
    assert runs == [1, 2]


class _Followed(GroupRecorder):
    """Writes for many jobs at once; remembers how they came."""

    groups: list[list[int]] = []

    def __init__(self, n: int) -> None:
        self.n = n

    @classmethod
    def record_group(cls, session: Session, recorders: Sequence[_Followed]) -> None:
        cls.groups.append([rec.n for rec in recorders])
        for rec in recorders:
            _follow(session, f"test.follow.{rec.n}")


def test_a_pooled_batch_is_prefetched_in_one_read_and_recorded_together(
    settings: Settings, db: Database, storage: Storage, registry: Registry, clock: Clock
) -> None:
    _Followed.groups = []
    reads: list[list[str]] = []
    seen: dict[int, object] = {}

    def prefetch(_connection: Connection, batch: Sequence[Job]) -> dict[str, object]:
        reads.append([job.id for job in batch])
        return {job.id: f"read {job.payload['n']}" for job in batch}

    def handler(ctx: JobContext, job: Job) -> Recorder:
        seen[int(job.payload["n"])] = ctx.prefetched(job.id)
        return _Followed(int(job.payload["n"]))

    registry.register("test.pooled", handler, concurrency=4, prefetch=prefetch)
    ids = [_enqueue(db, "test.pooled", {"n": n}) for n in range(10)]
    worker = Worker(settings, db, storage, registry=registry, clock=clock)

    assert worker.run_once() == 10
    assert sorted(job_id for read in reads for job_id in read) == sorted(ids)
    assert seen == {n: f"read {n}" for n in range(10)}
    assert sorted(n for group in _Followed.groups for n in group) == list(range(10))
    assert sorted(_followers(db)) == sorted(f"test.follow.{n}" for n in range(10))
    for job_id in ids:
        done = _job(db, job_id)
        assert done.status is JobStatus.DONE
        assert done.finished_at == clock.now


def test_a_pooled_job_whose_lease_was_taken_over_is_recorded_but_not_marked_done(
    settings: Settings, db: Database, storage: Storage, registry: Registry, clock: Clock
) -> None:
    _Followed.groups = []

    def handler(_ctx: JobContext, job: Job) -> Recorder:
        if job.payload["n"] == 0:  # another worker takes this one over meanwhile
            with db.session() as session:
                row = session.get(Job, job.id)
                assert row is not None
                row.locked_by = "another"
        return _Followed(int(job.payload["n"]))

    registry.register("test.pooled", handler, concurrency=2)
    taken, kept = (_enqueue(db, "test.pooled", {"n": n}) for n in range(2))
    worker = Worker(settings, db, storage, registry=registry, clock=clock)

    assert worker.run_once() == 2
    assert sorted(_followers(db)) == ["test.follow.0", "test.follow.1"]  # both happened
    assert _job(db, kept).status is JobStatus.DONE
    other = _job(db, taken)
    assert other.status is JobStatus.RUNNING
    assert other.locked_by == "another"


class _Refusals:
    """``db.session`` made to fail ``left`` more times with ``error()``, then to work again."""

    def __init__(
        self, db: Database, monkeypatch: pytest.MonkeyPatch, error: Callable[[], Exception]
    ) -> None:
        self.left = 0
        real_session = db.session

        def session() -> Any:
            if self.left:
                self.left -= 1
                raise error()
            return real_session()

        monkeypatch.setattr(db, "session", session)


@dataclass
class IoJob:
    """What the ``test.io`` jobs ran, and what their recorders recorded."""

    runs: list[str] = field(default_factory=list)
    recorded: list[str] = field(default_factory=list)


def _io_job(registry: Registry, concurrency: int, done: Callable[[], None]) -> IoJob:
    """A job kind ``test.io`` whose handler calls ``done`` once its I/O is over."""
    io = IoJob()

    def handler(_ctx: JobContext, job: Job) -> Recorder:
        io.runs.append(job.id)
        done()
        return lambda _session: io.recorded.append(job.id)

    registry.register("test.io", handler, concurrency=concurrency)
    return io


@pytest.mark.parametrize("concurrency", [0, 2])
def test_an_outcome_the_database_could_not_take_is_recorded_once_it_is_back(
    settings: Settings,
    db: Database,
    storage: Storage,
    registry: Registry,
    clock: Clock,
    monkeypatch: pytest.MonkeyPatch,
    concurrency: int,
) -> None:
    """The database goes away while a job's I/O is under way: what the job did is kept and
    recorded when it answers again, instead of the job staying RUNNING until its lease runs out
    (and doing its I/O a second time then)."""
    refusals = _Refusals(db, monkeypatch, lambda: ConnectionRefusedError("the database is away"))

    def away() -> None:  # the I/O is done; the database went away meanwhile
        refusals.left = 1_000_000

    io = _io_job(registry, concurrency, away)
    job_id = _enqueue(db, "test.io")
    worker = Worker(settings, db, storage, registry=registry, clock=clock)

    if concurrency:
        assert worker.run_once(limit=1) == 1  # the pool's outcome could not be recorded: kept
    else:
        with pytest.raises(ConnectionRefusedError):
            worker.run_once(limit=1)
    assert _job(db, job_id).status is JobStatus.RUNNING

    refusals.left = 0
    assert worker.run_once() == 0
    job = _job(db, job_id)
    assert (job.status, job.attempts, job.last_error) == (JobStatus.DONE, 1, None)
    assert io.runs == io.recorded == [job_id]


def test_an_outcome_kept_past_its_give_up_time_is_let_go_and_the_job_fails_for_good(
    settings: Settings,
    db: Database,
    storage: Storage,
    registry: Registry,
    clock: Clock,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """An outcome that cannot be recorded for longer than its job may take is not kept for
    ever: the worker lets go of it, the lease runs out, and the job fails for good (its give-up
    hooks alert the seller), instead of staying RUNNING."""
    refusals = _Refusals(db, monkeypatch, lambda: ConnectionRefusedError("the database is away"))

    def away() -> None:
        refusals.left = 1_000_000

    _io_job(registry, 0, away)
    job_id = _enqueue(db, "test.io")
    worker = Worker(settings, db, storage, registry=registry, clock=clock)
    with pytest.raises(ConnectionRefusedError):
        worker.run_once(limit=1)
    assert worker.holds(job_id)

    clock.advance(hours=settings.give_up_hours + 1)
    with pytest.raises(ConnectionRefusedError):
        worker.run_once()  # still away, and past its give-up time: let go
    assert not worker.holds(job_id)

    refusals.left = 0
    worker.run_once()  # the lease has run out too: an interrupted attempt past its give-up
    job = _job(db, job_id)
    assert job.status is JobStatus.FAILED
    assert job.last_error is not None
    assert "interrupted" in job.last_error


@pytest.mark.parametrize("concurrency", [0, 2])
def test_a_success_is_not_recorded_as_a_failed_attempt_when_the_database_is_back_a_moment_later(
    settings: Settings,
    db: Database,
    storage: Storage,
    registry: Registry,
    clock: Clock,
    monkeypatch: pytest.MonkeyPatch,
    concurrency: int,
) -> None:
    """Recording what a job did fails because the database does not answer (it is starting
    up), and it answers the very next moment: the job is still recorded as done once, not as a
    failed attempt whose retry would send its e-mail a second time."""
    refusals = _Refusals(
        db,
        monkeypatch,
        lambda: OperationalError("BEGIN", {}, Exception("the database system is starting up")),
    )

    def starting_up() -> None:
        # Refused: the first try at recording it (a pool's outcomes are first tried together,
        # then one at a time); the next try is taken.
        refusals.left = 2 if concurrency else 1

    io = _io_job(registry, concurrency, starting_up)
    job_id = _enqueue(db, "test.io")
    worker = Worker(settings, db, storage, registry=registry, clock=clock)

    if concurrency:
        worker.run_once(limit=1)
    else:
        with pytest.raises(OperationalError):
            worker.run_once(limit=1)
    worker.run_once()
    job = _job(db, job_id)
    assert (job.status, job.attempts, job.last_error) == (JobStatus.DONE, 1, None)
    assert io.runs == io.recorded == [job_id]


def test_a_job_a_live_worker_here_holds_is_not_taken_when_its_lease_ran_out(
    settings: Settings, db: Database, storage: Storage, registry: Registry
) -> None:
    """The database was away longer than a lease: the heartbeat could not renew it, and the
    worker keeps the outcome of the e-mail it sent meanwhile. Another worker of the same
    process that finds the lease run out renews it instead of sending the e-mail again; the
    holder then records its outcome."""
    sent: list[str] = []
    release = threading.Event()
    started = threading.Event()

    def send(_ctx: JobContext, job: Job) -> Recorder:
        sent.append(job.id)
        started.set()
        release.wait(30)
        return lambda _session: None

    registry.register("test.send", send)
    job_id = _enqueue(db, "test.send")
    holder = Worker(settings, db, storage, registry=registry, poll_interval=0.05)
    stop = threading.Event()
    thread = threading.Thread(target=holder.run_forever, args=(stop,))
    thread.start()
    try:
        assert started.wait(30)
        with db.session() as session:  # the lease ran out while the database was away
            job = session.get(Job, job_id)
            assert job is not None
            job.run_at = job.locked_until = utcnow() - timedelta(seconds=1)
        other = Worker(settings, db, storage, registry=registry)
        assert other.run_once() == 0
        held = _job(db, job_id)
        assert (held.status, held.locked_by, held.attempts) == (JobStatus.RUNNING, holder.name, 1)
        assert held.run_at > utcnow()
    finally:
        release.set()
        assert wait_for(lambda: _job(db, job_id).status is JobStatus.DONE, 30)
        stop.set()
        holder.wake()
        thread.join(30)
    assert sent == [job_id]
    assert _job(db, job_id).attempts == 1


def test_a_job_a_live_worker_here_does_not_hold_is_taken_when_its_lease_ran_out(
    settings: Settings, db: Database, storage: Storage, registry: Registry
) -> None:
    """A claim whose commit reached the database but not the worker (the connection broke at
    the commit) names a live, busy worker that never ran the job: its heartbeat renews only the
    job it does run, and once the other's lease runs out, that job is another's to run."""
    runs: list[str] = []
    started, release = threading.Event(), threading.Event()

    def slow(_ctx: JobContext, _job: Job) -> None:
        started.set()
        release.wait(60)

    registry.register("test.slow", slow)
    registry.register("test.lost", lambda _ctx, job: runs.append(job.id))
    lease = timedelta(seconds=3)
    holder = Worker(settings, db, storage, registry=registry, lease=lease, poll_interval=0.05)
    stop = threading.Event()
    thread = threading.Thread(target=holder.run_forever, args=(stop,))
    busy_id = _enqueue(db, "test.slow")
    lost_id = _enqueue(db, "test.lost", run_at=utcnow() + timedelta(hours=1))
    thread.start()
    try:
        assert started.wait(30)
        with db.session() as session:
            job = session.get(Job, lost_id)
            assert job is not None
            jobs.take(job, holder.name, utcnow() - lease * 2, lease, timedelta(days=1))
        first = _job(db, busy_id).locked_until
        assert first is not None
        assert wait_for(lambda: (_job(db, busy_id).locked_until or first) > first, 30)
        assert _job(db, lost_id).run_at < utcnow()  # not renewed with the job it does run
        Worker(settings, db, storage, registry=registry).run_once()
        assert runs == [lost_id]
    finally:
        release.set()
        stop.set()
        holder.wake()
        thread.join(30)
    assert _job(db, lost_id).status is JobStatus.DONE
    assert _job(db, busy_id).status is JobStatus.DONE


def test_a_running_job_keeps_its_lease_while_it_runs(
    settings: Settings, db: Database, storage: Storage, registry: Registry
) -> None:
    """Leases are short and renewed while the job runs: a long job is not taken over, and a
    job whose worker died is due again soon."""
    started, release = threading.Event(), threading.Event()

    def slow(_ctx: JobContext, _job: Job) -> None:
        started.set()
        release.wait(60)

    registry.register("test.slow", slow)
    job_id = _enqueue(db, "test.slow")
    worker = Worker(
        settings, db, storage, registry=registry, lease=timedelta(seconds=6), poll_interval=0.05
    )
    stop = threading.Event()
    thread = threading.Thread(target=worker.run_forever, args=(stop,))
    thread.start()
    try:
        assert started.wait(30)
        first = _job(db, job_id).locked_until
        assert first is not None
        assert wait_for(lambda: (_job(db, job_id).locked_until or first) > first, 30)
        running = _job(db, job_id)
        assert (running.status, running.attempts, running.locked_by) == (
            JobStatus.RUNNING,
            1,
            worker.name,
        )
        assert running.run_at == running.locked_until  # not due to anyone else meanwhile
    finally:
        release.set()
        stop.set()
        worker.wake()
        thread.join(30)
    done = _job(db, job_id)
    assert (done.status, done.attempts) == (JobStatus.DONE, 1)
