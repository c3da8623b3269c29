"""The engine and its units of work.

One transaction per request or job: services only ``flush``; whoever opened the session (the
request boundary in :mod:`shipkey.http.deps`, a CLI command, a worker job) commits.

SQLite runs in WAL mode and write transactions start with ``BEGIN IMMEDIATE``, so two writers
queue on the database lock (``busy_timeout``) instead of failing when a reader upgrades.
Read-only work uses :meth:`Database.read_session`, which starts a deferred transaction that never
takes the write lock.
"""

from __future__ import annotations

import asyncio
import contextlib
import sqlite3
import threading
import weakref
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from functools import cached_property
from typing import TYPE_CHECKING, Any, Concatenate, ParamSpec, TypeVar

from sqlalchemy import (
    Engine,
    create_engine,
    event,
)
from sqlalchemy.engine import Connection
from sqlalchemy.pool import ConnectionPoolEntry

from shipkey.actor import ActorSource, act_as, current_source
from shipkey.db.reads import BatchRead, DirectRead, LoopReaders, _driver_takes

if TYPE_CHECKING:
    from sqlalchemy.orm import Session, sessionmaker

# The ORM is loaded by the first session, not by the engine: a command that reads with Core
# (``shipkey products list``) does not wait for it.


def _on_sqlite_connect(dbapi_conn: Any, _record: ConnectionPoolEntry) -> None:
    if not isinstance(dbapi_conn, sqlite3.Connection):
        return
    # We issue BEGIN ourselves (see _on_sqlite_begin); the driver must not.
    dbapi_conn.isolation_level = None
    cursor = dbapi_conn.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.close()


def make_engine(url: str, *, echo: bool = False) -> Engine:
    """An engine for ``url``; SQLite gets the pragmas and locking described above."""
    if url.startswith("sqlite"):
        engine = create_engine(
            url,
            echo=echo,
            connect_args={"check_same_thread": False, "timeout": 30},
            pool_size=20,
            max_overflow=40,
        )
        event.listen(engine, "connect", _on_sqlite_connect)

        @event.listens_for(engine, "begin")
        def _on_sqlite_begin(conn: Any) -> None:
            mode = conn.get_execution_options().get("sqlite_begin", "IMMEDIATE")
            if mode:  # False: no transaction; a single statement reads its own snapshot
                conn.exec_driver_sql(f"BEGIN {mode}")

        return engine
    return create_engine(url, echo=echo, pool_size=20, max_overflow=40, pool_pre_ping=True)


def _refuse_writes(session: Session, _context: Any, _instances: Any) -> None:
    if session.new or session.dirty or session.deleted:
        raise RuntimeError("a read session cannot write: use Database.session()")


P = ParamSpec("P")
T = TypeVar("T")

QUICK_READERS = 8
"""Connections per event loop for direct reads on PostgreSQL."""


class Database:
    """The engine and the two kinds of session the app uses."""

    def __init__(self, url: str, *, echo: bool = False) -> None:
        self.url = url
        self.engine = make_engine(url, echo=echo)
        self.is_sqlite = self.engine.dialect.name == "sqlite"
        self.actor: ActorSource | None = None
        """Who acts in every write session of this database (the command line names itself)."""
        self._reader = self.engine.execution_options(sqlite_begin="DEFERRED")
        self._single_reader = self.engine.execution_options(
            **({"sqlite_begin": False} if self.is_sqlite else {"isolation_level": "AUTOCOMMIT"})
        )
        self._loop_readers: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, LoopReaders]
        self._loop_readers = weakref.WeakKeyDictionary()
        self._all_loop_readers: set[LoopReaders] = set()
        self._held = threading.local()
        self._held_lock = threading.Lock()
        self._held_all: list[Connection] = []

    @cached_property
    def _sessions(self) -> sessionmaker[Session]:
        from sqlalchemy.orm import sessionmaker

        return sessionmaker(self.engine, expire_on_commit=False)

    @cached_property
    def _read_sessions(self) -> sessionmaker[Session]:
        from sqlalchemy.orm import sessionmaker

        made = sessionmaker(self._reader, expire_on_commit=False)
        event.listen(made, "before_flush", _refuse_writes)
        return made

    @contextmanager
    def session(self) -> Iterator[Session]:
        """A write unit of work: committed when the block ends, rolled back on error."""
        with self._sessions() as session:
            source = self.actor or current_source()
            if source is not None:
                act_as(session, source)
            try:
                yield session
                session.commit()
            except BaseException:
                session.rollback()
                raise

    def run(
        self, work: Callable[Concatenate[Session, P], T], *args: P.args, **kwargs: P.kwargs
    ) -> T:
        """``work(session, …)`` in a write unit of work of its own (for a caller that must move
        bytes between short transactions, from a worker thread)."""
        with self.session() as session:
            return work(session, *args, **kwargs)

    @contextmanager
    def read_session(self) -> Iterator[Session]:
        """A read-only unit of work that never takes SQLite's write lock. A change made in it
        is refused at the flush (it would only be rolled back at the end).

        Closing (not rolling back) ends the transaction, so loaded objects stay readable.
        """
        with self._read_sessions() as session:
            yield session

    @contextmanager
    def read_connection(self) -> Iterator[Connection]:
        """A Core connection for one quick read statement (hot paths: see :meth:`read_first`).

        No transaction is opened (SQLite: no BEGIN; PostgreSQL: autocommit): the statement is
        its own consistent snapshot, so the connection can stay open between reads, and each
        thread keeps its own. That saves the pool's checkout, PostgreSQL's ping, BEGIN and
        ROLLBACK: on PostgreSQL four round trips become one. One that fails is closed and made
        again on the next read.
        """
        held: Connection | None = getattr(self._held, "conn", None)
        if held is None or held.closed:
            held = self._single_reader.connect()
            self._held.conn = held
            with self._held_lock:
                self._held_all.append(held)
        try:
            yield held
        except BaseException:
            self._held.conn = None
            with self._held_lock:
                self._held_all.remove(held)
            held.close()
            raise

    async def read_first(
        self,
        query: DirectRead,
        params: dict[str, str | None],
        batch: BatchRead | None = None,
    ) -> tuple[Any, ...] | None:
        """``query``'s first row, read from the event loop (hot paths: license validation).

        On SQLite it runs right there: an indexed read of a local file in WAL mode never waits
        for a lock, and costs less than a trip to a thread. On PostgreSQL the loop waits for the
        server on an asyncio connection of its own (:class:`LoopReaders`); with ``batch`` (the
        same read for many parameter sets), the reads that arrive in one turn of the loop are
        made as one statement.
        """
        if self.is_sqlite:
            with self.read_connection() as conn:
                return query.first(conn, params)
        loop = asyncio.get_running_loop()
        readers = self._loop_readers.get(loop)
        if readers is None:
            readers = self._readers_for(loop)
        if batch is not None and all(_driver_takes(value) for value in params.values()):
            return await readers.first_batched(batch, params)
        # Alone: a value the driver refuses (a NUL character) fails this read, not its batch.
        return await readers.first(query, params)

    def _readers_for(self, loop: asyncio.AbstractEventLoop) -> LoopReaders:
        url = self.engine.url.set(drivername="postgresql")
        readers = LoopReaders(
            url.render_as_string(hide_password=False), self.engine.dialect, QUICK_READERS
        )
        with self._held_lock:
            # Loops that ended (a test client's, a restarted server's) leave their connections
            # behind: closed here, so that they never add up.
            for old in list(self._all_loop_readers):
                ended = old.loop()
                if ended is None or ended.is_closed():
                    self._all_loop_readers.discard(old)
                    old.close_all()
            self._loop_readers[loop] = readers
            self._all_loop_readers.add(readers)
        return readers

    def dispose(self) -> None:
        with self._held_lock:
            every, self._all_loop_readers = self._all_loop_readers, set()
            self._loop_readers.clear()
        for readers in every:
            readers.close_all()
        with self._held_lock:
            held, self._held_all = self._held_all, []
        for conn in held:
            with contextlib.suppress(Exception):  # another thread's: closed from here at exit
                conn.close()
        self.engine.dispose()


# Inserts on hot paths (a webhook writes six rows) skip the unit of work: one statement made
# once per table, the values passed as its parameters (building a statement with the values in
# it, or flushing an object, costs more than running the INSERT), and the new row attached to
# the session as a persistent object made from those values, without reading it back. Columns
# left out of ``values`` get their defaults in the database and load on first use.
