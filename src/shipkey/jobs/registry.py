"""What the worker knows how to run: ``kind → handler(ctx, job)``.

A handler does its I/O outside any database transaction and opens its own short sessions from
``ctx.db`` when it must read or record something. The ``job`` it gets is a detached copy of the
row (changing it changes nothing). It succeeds by returning and fails by raising;
:class:`PermanentError` says that retrying cannot help. A job may run more than once (a worker
can die after the work but before recording it), so handlers must be idempotent.

A handler may return a :data:`Recorder`, a function of a session that writes what its I/O
achieved (an e-mail marked sent): it runs in the transaction that records the job DONE, so both
commit together, in one short transaction instead of two. It runs even when the job's lease was
taken over meanwhile (the I/O did happen), so it is idempotent too.

Give-up hooks run inside the transaction that marks a job FAILED, so their writes (marking an
e-mail failed, queueing an alert) commit together with it.

A kind registered with ``concurrency=n`` (I/O-bound work such as seller webhooks) runs in a
pool of ``n`` threads beside the worker's loop: due jobs of that kind are claimed together, their
handlers run at once, and what they achieved is recorded in one transaction for all of them.
Such a job never holds up the others (a receiver that hangs until its timeout delays only its
own kind's threads). Two things save such a kind database round trips: a ``prefetch`` function,
run once a batch is claimed (one read, no transaction), reads what the batch's handlers need in
one statement (a handler finds its share with :meth:`JobContext.prefetched`, and reads its own
when it finds nothing, as for a job run by hand); and a :class:`GroupRecorder`, whose writes for
all the jobs of a batch are made together (one ``executemany``).

Domains that define job kinds add their module to :data:`HANDLER_MODULES`; each such module has a
``register(registry)`` function.
"""

from __future__ import annotations

import importlib
import logging
import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Self

from sqlalchemy import Connection
from sqlalchemy.orm import Session

from shipkey.clock import utcnow
from shipkey.config import Settings
from shipkey.db.engine import Database
from shipkey.jobs.models import Job
from shipkey.storage import Storage

log = logging.getLogger(__name__)

HANDLER_MODULES: tuple[str, ...] = (
    "shipkey.mail.handlers",
    "shipkey.payments.handlers",
    "shipkey.downloads.jobs",
    "shipkey.upkeep.prune",
    "shipkey.admin_ui.daily",
    "shipkey.hooks.delivery",
    "shipkey.risk.handlers",
    "shipkey.privacy.retention",
    "shipkey.privacy.erasure",
)


class PermanentError(Exception):
    """A failure that retrying cannot fix: the job fails at once instead of backing off."""


@dataclass(frozen=True)
class JobContext:
    """What a handler may use: settings, the database, storage and the worker's clock."""

    settings: Settings
    db: Database
    storage: Storage
    clock: Callable[[], datetime] = utcnow
    _prefetched: dict[str, object] = field(default_factory=dict, repr=False, compare=False)
    _prefetched_lock: threading.Lock = field(
        default_factory=threading.Lock, repr=False, compare=False
    )

    def now(self) -> datetime:
        return self.clock()

    def keep_prefetched(self, found: Mapping[str, object]) -> None:
        """What a kind's ``prefetch`` read for the jobs just claimed, by job id."""
        with self._prefetched_lock:
            self._prefetched.update(found)

    def prefetched(self, job_id: str) -> object | None:
        """What was read for ``job_id`` when it was claimed (once; None when nothing was)."""
        with self._prefetched_lock:
            return self._prefetched.pop(job_id, None)


Recorder = Callable[[Session], object]


class GroupRecorder:
    """A recorder whose writes can be made for many jobs at once: the worker calls
    :meth:`record_group` once with every such recorder of one class that finished in a batch
    (in the transaction that records them all). Called alone, it records itself."""

    def __call__(self, session: Session) -> None:
        type(self).record_group(session, [self])

    @classmethod
    def record_group(cls, session: Session, recorders: Sequence[Self]) -> None:
        raise NotImplementedError


Prefetch = Callable[[Connection, Sequence[Job]], Mapping[str, object]]
Handler = Callable[[JobContext, Job], Recorder | None]
GiveUpHook = Callable[[Session, JobContext, Job], None]


@dataclass(frozen=True)
class JobType:
    kind: str
    handler: Handler
    on_give_up: GiveUpHook | None = None
    concurrency: int = 0
    """Threads that run this kind's jobs side by side; 0: one at a time in the worker's loop."""
    prefetch: Prefetch | None = None
    """Reads, once a batch is claimed, what its jobs need (by job id)."""


@dataclass
class Registry:
    """Handlers by job kind, and hooks run for every job that fails for good."""

    types: dict[str, JobType] = field(default_factory=dict)
    give_up_hooks: list[GiveUpHook] = field(default_factory=list)
    stop_hooks: list[Callable[[], None]] = field(default_factory=list)
    start_hooks: list[Callable[[JobContext], None]] = field(default_factory=list)

    def register(
        self,
        kind: str,
        handler: Handler,
        *,
        on_give_up: GiveUpHook | None = None,
        concurrency: int = 0,
        prefetch: Prefetch | None = None,
    ) -> None:
        """Run ``handler`` for jobs of ``kind``; ``on_give_up`` when such a job fails for good;
        ``concurrency`` threads at once for I/O-bound kinds (see the module's docstring)."""
        if kind in self.types:
            raise ValueError(f"a handler for {kind!r} is already registered")
        self.types[kind] = JobType(kind, handler, on_give_up, max(concurrency, 0), prefetch)

    def concurrent_kinds(self) -> dict[str, int]:
        """Kinds whose jobs run in a pool of threads, with the size of each pool."""
        return {kind: t.concurrency for kind, t in self.types.items() if t.concurrency > 0}

    def on_any_give_up(self, hook: GiveUpHook) -> None:
        """Run ``hook`` for every job that fails for good (after its kind's own hook)."""
        self.give_up_hooks.append(hook)

    def on_stop(self, hook: Callable[[], None]) -> None:
        """Run ``hook`` in a worker's thread when that worker stops (to close what the
        handlers keep open per thread, such as an SMTP connection)."""
        self.stop_hooks.append(hook)

    def on_start(self, hook: Callable[[JobContext], None]) -> None:
        """Run ``hook`` when a worker starts (to queue a recurring job: it must be idempotent,
        every worker runs it)."""
        self.start_hooks.append(hook)

    def started(self, ctx: JobContext) -> None:
        for hook in self.start_hooks:
            try:
                hook(ctx)
            except Exception:
                log.exception("a worker's start hook failed")

    def stopped(self) -> None:
        for hook in self.stop_hooks:
            try:
                hook()
            except Exception:
                log.exception("a worker's stop hook failed")

    def get(self, kind: str) -> JobType | None:
        return self.types.get(kind)

    def gave_up(self, session: Session, ctx: JobContext, job: Job) -> None:
        """Run the give-up hooks for ``job`` inside the transaction that fails it."""
        job_type = self.types.get(job.kind)
        if job_type is not None and job_type.on_give_up is not None:
            job_type.on_give_up(session, ctx, job)
        for hook in self.give_up_hooks:
            hook(session, ctx, job)


def default_registry(modules: tuple[str, ...] = HANDLER_MODULES) -> Registry:
    """A registry with every handler shipkey defines."""
    registry = Registry()
    for name in modules:
        importlib.import_module(name).register(registry)
    return registry
