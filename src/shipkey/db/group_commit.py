"""Group commit: the write transactions of concurrent requests, committed together.

A burst of Stripe events is a stream of short write transactions, and on SQLite one runs at a
time. Per event, the transaction's own costs (the pool checkout, ``BEGIN``, ``COMMIT`` writing the
changed pages to SQLite's log or PostgreSQL's, a trip to a thread and back) were a fifth of the
work, paid while every other event waited. Here requests hand over their work and wait; a
writer takes what has queued up (at most :data:`BATCH` pieces), runs each piece in a savepoint
of one transaction, and commits once.

On PostgreSQL transactions run side by side, and one holding the row locks of many events
could deadlock with another batch (seen in the race tests); batches were also slower there in
the bench. So there each piece of work keeps a transaction of its own (``batch=1``), run the
same way.

Every request keeps its own all-or-nothing. Work that raises is rolled back to its savepoint and
its request gets the error, while the rest of the batch goes on; a commit that fails fails every
request of the batch, and none of their work is kept. A request is answered only after its work
is committed. Work left by a request that was cancelled before its batch began is not run.
"""

from __future__ import annotations

import asyncio
import collections
import weakref
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

import anyio
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

from shipkey.db.engine import Database

T = TypeVar("T")

BATCH = 32
"""The most pieces of work one SQLite transaction takes (a webhook holds the lock about 2 ms)."""


@dataclass(eq=False)
class _Work:
    run: Callable[[Session], Any]
    future: asyncio.Future[Any]


@dataclass(eq=False)
class _Queue:
    """The work waiting in one event loop, and how many writers are draining it."""

    waiting: collections.deque[_Work] = field(default_factory=collections.deque)
    writers: int = 0


Outcome = tuple[bool, Any]


class GroupCommit:
    """Runs work of many requests in shared transactions.

    ``slots`` is the semaphore every writing request of the app takes (one place on SQLite), so
    a batch waits its turn like any other writer; ``writers`` is how many batches may run at
    once, ``batch`` how much work one takes.
    """

    def __init__(
        self, db: Database, slots: anyio.Semaphore, *, writers: int, batch: int = BATCH
    ) -> None:
        self._db = db
        self._slots = slots
        self._writers = writers
        self._batch = batch
        self._queues: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, _Queue]
        self._queues = weakref.WeakKeyDictionary()
        self._tasks: set[asyncio.Task[None]] = set()

    async def run(self, work: Callable[[Session], T]) -> T:
        """``work(session)`` committed (with others' work); its result, or what it raised."""
        loop = asyncio.get_running_loop()
        queue = self._queues.get(loop)
        if queue is None:
            queue = self._queues[loop] = _Queue()
        item = _Work(work, loop.create_future())
        queue.waiting.append(item)
        if queue.writers < self._writers:
            queue.writers += 1
            task = loop.create_task(self._drain(queue))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)
        result: T = await item.future
        return result

    async def _drain(self, queue: _Queue) -> None:
        try:
            while queue.waiting:
                async with self._slots:
                    # Taken once the writer's place is ours: what queued meanwhile goes too.
                    batch: list[_Work] = []
                    while queue.waiting and len(batch) < self._batch:
                        item = queue.waiting.popleft()
                        if not item.future.done():  # its request was cancelled
                            batch.append(item)
                    if not batch:
                        continue
                    try:
                        outcomes = await run_in_threadpool(self._commit, batch)
                    except BaseException as exc:
                        _settle(batch, [(False, _as_error(exc))] * len(batch))
                        raise
                _settle(batch, outcomes)
        finally:
            queue.writers -= 1

    def _commit(self, batch: list[_Work]) -> list[Outcome]:
        """Each piece in its savepoint, then one commit (in a worker thread)."""
        if len(batch) == 1:  # its own transaction: no savepoint needed
            try:
                with self._db.session() as session:
                    return [(True, batch[0].run(session))]
            except Exception as exc:
                return [(False, exc)]
        outcomes: list[Outcome] = []
        try:
            with self._db.session() as session:
                for item in batch:
                    try:
                        with session.begin_nested():  # released, or rolled back on error
                            value = item.run(session)
                    except Exception as exc:
                        outcomes.append((False, exc))
                    else:
                        outcomes.append((True, value))
        except Exception as exc:  # the commit (or the connection) failed: nothing was kept
            return [(False, exc if ok else value) for ok, value in outcomes] + [(False, exc)] * (
                len(batch) - len(outcomes)
            )
        return outcomes


def _settle(batch: list[_Work], outcomes: list[Outcome]) -> None:
    for item, (ok, value) in zip(batch, outcomes, strict=True):
        if item.future.done():
            continue
        if ok:
            item.future.set_result(value)
        else:
            item.future.set_exception(value)


def _as_error(exc: BaseException) -> Exception:
    if isinstance(exc, Exception):
        return exc
    return RuntimeError(f"the write was interrupted ({type(exc).__name__})")
