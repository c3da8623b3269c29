"""Database: engine, sessions, the declarative base and the column types every model shares.

One transaction per request or job: services only ``flush``; whoever opened the session (the
request boundary in :mod:`shipkey.deps`, a CLI command, a worker job) commits.

SQLite runs in WAL mode and write transactions start with ``BEGIN IMMEDIATE``, so two writers
queue on the database lock (``busy_timeout``) instead of failing when a reader upgrades.
Read-only work uses :meth:`Database.read_session`, which starts a deferred transaction that never
takes the write lock.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import functools
import secrets
import sqlite3
import threading
import weakref
from collections.abc import Awaitable, Callable, Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any, ParamSpec, TypeVar

import psycopg
from sqlalchemy import (
    JSON,
    DateTime,
    Engine,
    MetaData,
    Table,
    TypeDecorator,
    bindparam,
    create_engine,
    event,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection, Dialect
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import (
    DeclarativeBase,
    Session,
    configure_mappers,
    make_transient_to_detached,
    sessionmaker,
)
from sqlalchemy.orm.attributes import set_committed_value
from sqlalchemy.pool import ConnectionPoolEntry
from sqlalchemy.sql import Select

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

ID_ALPHABET = "0123456789abcdefghijklmnopqrstuvwxyz"


def utcnow() -> datetime:
    return datetime.now(UTC)


def random_string(alphabet: str, length: int) -> str:
    """``length`` characters drawn uniformly and independently from ``alphabet``, from the
    system's CSPRNG: one draw of a number below ``len(alphabet) ** length``, written in that
    base (a tenth of the cost of drawing each character on its own)."""
    base = len(alphabet)
    number = secrets.randbelow(base**length)
    chars = []
    for _ in range(length):
        number, digit = divmod(number, base)
        chars.append(alphabet[digit])
    return "".join(chars)


def new_id(prefix: str) -> str:
    """A short, unguessable, URL-safe id such as ``pur_4k9x2m...`` (about 103 random bits)."""
    return prefix + "_" + random_string(ID_ALPHABET, 20)


class UTCDateTime(TypeDecorator[datetime]):
    """Timezone-aware UTC datetimes on every backend (SQLite keeps no zone)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        value = value.astimezone(UTC)
        if dialect.name == "sqlite":
            return value.replace(tzinfo=None)
        return value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


class JSONDict(TypeDecorator[dict[str, Any]]):
    """A JSON object column: JSONB on PostgreSQL, JSON text elsewhere."""

    impl = JSON
    cache_ok = True

    def load_dialect_impl(self, dialect: Dialect) -> Any:
        if dialect.name == "postgresql":
            return dialect.type_descriptor(postgresql.JSONB())
        return dialect.type_descriptor(JSON())


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


ModelT = TypeVar("ModelT", bound=Base)
P = ParamSpec("P")
R = TypeVar("R")
T = TypeVar("T")


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


class DirectRead:
    """A Core ``SELECT`` compiled once per dialect and run on the driver's own cursor.

    For the hottest read only (license validation): SQLAlchemy's execution path (compiled
    cache lookup, execution context, result object) costs several times what the driver spends
    on an indexed lookup. The statement is still written with Core and its columns' types still
    convert the values (SQLite's text dates, enums, JSON), through the types' own result
    processors. The bound parameters must be plain strings (or None): they are passed as they
    are. Driver errors are raised as SQLAlchemy raises them (``DBAPIError`` subclasses, with
    ``connection_invalidated`` set when the connection was lost).
    """

    def __init__(self, statement: Select[Any]) -> None:
        self.statement = statement
        self._compiled: dict[str, tuple[str, tuple[str, ...] | None, list[Any]]] = {}

    def _for(self, dialect: Dialect) -> tuple[str, tuple[str, ...] | None, list[Any]]:
        known = self._compiled.get(dialect.name)
        if known is None:
            compiled = self.statement.compile(dialect=dialect)
            names = (
                tuple(compiled.positiontup)
                if compiled.positional and compiled.positiontup
                else None
            )
            processors = [
                column.type.dialect_impl(dialect).result_processor(dialect, None)
                for column in self.statement.selected_columns
            ]
            known = self._compiled[dialect.name] = (str(compiled), names, processors)
        return known

    def sql(self, dialect: Dialect) -> str:
        """The statement as sent to this dialect's driver."""
        return self._for(dialect)[0]

    def first(self, conn: Connection, params: dict[str, str | None]) -> tuple[Any, ...] | None:
        """The first row, its values converted as a Core result would convert them."""
        dialect = conn.dialect
        sql, names, processors = self._for(dialect)
        driver = conn.connection
        cursor = driver.cursor()
        try:
            cursor.execute(sql, [params[name] for name in names] if names else params)
            row = cursor.fetchone()
        except dialect.loaded_dbapi.Error as exc:
            lost = dialect.is_disconnect(exc, driver.dbapi_connection, cursor)
            if lost:
                conn.invalidate()
            raise DBAPIError.instance(
                sql, params, exc, dialect.loaded_dbapi.Error, connection_invalidated=lost
            ) from exc
        finally:
            cursor.close()
        return _converted(row, processors)

    async def first_async(
        self, conn: psycopg.AsyncConnection[Any], dialect: Dialect, params: dict[str, Any]
    ) -> tuple[Any, ...] | None:
        """:meth:`first` on an asyncio psycopg connection (PostgreSQL, see ``LoopReaders``)."""
        sql, _names, processors = self._for(dialect)
        cursor = await conn.execute(sql, params)
        return _converted(await cursor.fetchone(), processors)

    async def all_async(
        self, conn: psycopg.AsyncConnection[Any], dialect: Dialect, params: dict[str, Any]
    ) -> list[tuple[Any, ...]]:
        """Every row, on an asyncio psycopg connection (see :class:`BatchRead`)."""
        sql, _names, processors = self._for(dialect)
        cursor = await conn.execute(sql, params)
        return [_converted_row(row, processors) for row in await cursor.fetchall()]


class BatchRead:
    """The same read for many parameter sets at once, as one statement (PostgreSQL).

    Reads of one :class:`DirectRead` that arrive in the same turn of the event loop are made
    together (see :meth:`Database.read_first`): under load many validations wait for the server
    at once, and each paid a round trip, the driver's work around it and the server's own
    per-statement cost. ``statement`` takes each parameter as an array (``arrays`` names the
    array parameter for each single one) and selects, first, the 1-based position of the set
    each row answers (``unnest(…) WITH ORDINALITY``), then the single read's columns.
    """

    def __init__(self, statement: Select[Any], arrays: dict[str, str]) -> None:
        self.read = DirectRead(statement)
        self.arrays = arrays

    def params(self, sets: Sequence[dict[str, Any]]) -> dict[str, list[Any]]:
        return {array: [one[name] for one in sets] for name, array in self.arrays.items()}


def _driver_takes(value: str | None) -> bool:
    """Whether psycopg sends ``value`` as text: PostgreSQL's text holds no NUL character, and
    a string that is not valid Unicode (a lone surrogate) cannot be encoded."""
    if value is None:
        return True
    if "\x00" in value:
        return False
    if value.isascii():
        return True
    try:
        value.encode()
    except UnicodeEncodeError:
        return False
    return True


def _converted(row: Sequence[Any] | None, processors: list[Any]) -> tuple[Any, ...] | None:
    return None if row is None else _converted_row(row, processors)


def _converted_row(row: Sequence[Any], processors: list[Any]) -> tuple[Any, ...]:
    return tuple(
        value if convert is None or value is None else convert(value)
        for convert, value in zip(processors, row, strict=True)
    )


class LoopReaders:
    """Autocommit connections for :class:`DirectRead` on PostgreSQL, used on one event loop.

    A read waits for the server on the event loop itself instead of in a thread: handing a read
    to a thread and its answer back cost more CPU than the read (bench/README.md). At most
    ``size`` connections per loop, opened on first need and handed to waiting reads in turn
    (first come, first served: a read never waits behind later ones). One that fails is closed
    and its place opened again on the next read. They are closed synchronously
    (:meth:`close_all`), as the loop they were used on may be gone by then.
    """

    def __init__(self, conninfo: str, dialect: Dialect, size: int) -> None:
        self.conninfo = conninfo
        self.dialect = dialect
        # A free place: an open connection, or None for one to open.
        self.free: list[psycopg.AsyncConnection[Any] | None] = [None] * size
        self.waiting: collections.deque[asyncio.Future[psycopg.AsyncConnection[Any] | None]] = (
            collections.deque()
        )
        self.open: set[psycopg.AsyncConnection[Any]] = set()
        self.batches: dict[
            BatchRead,
            list[tuple[dict[str, str | None], asyncio.Future[tuple[Any, ...] | None]]],
        ] = {}
        self.tasks: set[asyncio.Task[None]] = set()
        self.loop: weakref.ref[asyncio.AbstractEventLoop] = weakref.ref(asyncio.get_running_loop())

    async def _take(self) -> psycopg.AsyncConnection[Any] | None:
        if self.free:
            return self.free.pop()
        turn: asyncio.Future[psycopg.AsyncConnection[Any] | None]
        turn = asyncio.get_running_loop().create_future()
        self.waiting.append(turn)
        try:
            return await turn
        except asyncio.CancelledError:
            if turn.done() and not turn.cancelled():
                self._give_back(turn.result())  # handed over just as the read was cancelled
            raise

    def _give_back(self, conn: psycopg.AsyncConnection[Any] | None) -> None:
        while self.waiting:
            turn = self.waiting.popleft()
            if not turn.done():
                turn.set_result(conn)
                return
        self.free.append(conn)

    async def first(
        self, query: DirectRead, params: dict[str, str | None]
    ) -> tuple[Any, ...] | None:
        return await self._run(query, params, query.first_async)

    async def first_batched(
        self, batch: BatchRead, params: dict[str, str | None]
    ) -> tuple[Any, ...] | None:
        """:meth:`first`, made with the other reads of ``batch`` that arrive in this turn of
        the event loop: the first to arrive schedules the statement for the next turn."""
        loop = asyncio.get_running_loop()
        waiting = self.batches.get(batch)
        if waiting is None:
            waiting = self.batches[batch] = []
            loop.call_soon(self._start_batch, batch)
        answer: asyncio.Future[tuple[Any, ...] | None] = loop.create_future()
        waiting.append((params, answer))
        return await answer

    def _start_batch(self, batch: BatchRead) -> None:
        waiting = self.batches.pop(batch, [])
        task = asyncio.get_running_loop().create_task(self._read_batch(batch, waiting))
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)

    async def _read_batch(
        self,
        batch: BatchRead,
        waiting: list[tuple[dict[str, str | None], asyncio.Future[tuple[Any, ...] | None]]],
    ) -> None:
        try:
            rows = await self._run(
                batch.read, batch.params([params for params, _ in waiting]), batch.read.all_async
            )
        except Exception as exc:  # each of the reads fails as a single read would
            for _, answer in waiting:
                if not answer.done():
                    answer.set_exception(exc)
            return
        except BaseException:  # the loop is shutting down
            for _, answer in waiting:
                answer.cancel()
            raise
        found = {row[0]: row[1:] for row in rows}
        for position, (_, answer) in enumerate(waiting, start=1):
            if not answer.done():  # not cancelled meanwhile (its client went away)
                answer.set_result(found.get(position))

    async def _run(
        self, query: DirectRead, params: dict[str, Any], read: Callable[..., Awaitable[R]]
    ) -> R:
        for attempt in (1, 2):
            conn = await self._take()
            try:
                if conn is None:
                    conn = await psycopg.AsyncConnection.connect(self.conninfo, autocommit=True)
                    self.open.add(conn)
                row = await read(conn, self.dialect, params)
            except psycopg.Error as exc:
                lost = conn is None or conn.broken or conn.closed
                if lost:
                    self._discard(conn)
                    conn = None
                self._give_back(conn)
                if lost and attempt == 1:
                    continue  # the server went away since the last read: once more, afresh
                raise DBAPIError.instance(
                    query.sql(self.dialect), params, exc, psycopg.Error, connection_invalidated=lost
                ) from exc
            except BaseException:
                # Cancelled mid-read (the client went away): the connection's state is unknown.
                self._discard(conn)
                self._give_back(None)
                raise
            self._give_back(conn)
            return row
        raise AssertionError("unreachable")  # pragma: no cover

    def _discard(self, conn: psycopg.AsyncConnection[Any] | None) -> None:
        if conn is not None:
            self.open.discard(conn)
            conn.pgconn.finish()

    def close_all(self) -> None:
        for conn in list(self.open):
            self._discard(conn)


QUICK_READERS = 8
"""Connections per event loop for direct reads on PostgreSQL."""


class Database:
    """The engine and the two kinds of session the app uses."""

    def __init__(self, url: str, *, echo: bool = False) -> None:
        self.url = url
        self.engine = make_engine(url, echo=echo)
        self.is_sqlite = self.engine.dialect.name == "sqlite"
        self._sessions = sessionmaker(self.engine, expire_on_commit=False)
        self._reader = self.engine.execution_options(sqlite_begin="DEFERRED")
        self._read_sessions = sessionmaker(self._reader, expire_on_commit=False)
        self._single_reader = self.engine.execution_options(
            **({"sqlite_begin": False} if self.is_sqlite else {"isolation_level": "AUTOCOMMIT"})
        )
        self._loop_readers: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, LoopReaders]
        self._loop_readers = weakref.WeakKeyDictionary()
        self._all_loop_readers: set[LoopReaders] = set()
        self._held = threading.local()
        self._held_lock = threading.Lock()
        self._held_all: list[Connection] = []

    @contextmanager
    def session(self) -> Iterator[Session]:
        """A write unit of work: committed when the block ends, rolled back on error."""
        with self._sessions() as session:
            try:
                yield session
                session.commit()
            except BaseException:
                session.rollback()
                raise

    @contextmanager
    def read_session(self) -> Iterator[Session]:
        """A read-only unit of work that never takes SQLite's write lock.

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


def insert_ignore(session: Session, model: type[Base], values: dict[str, Any]) -> bool:
    """``INSERT … ON CONFLICT DO NOTHING``; True when this call inserted the row."""
    stmt = _insert_statement(_table(model), session.get_bind().dialect.name, ignore=True)
    # rowcount of an INSERT is only reported when asked for (-1 otherwise on psycopg).
    result = _execute_insert(session, stmt, values, {"preserve_rowcount": True})
    return bool(getattr(result, "rowcount", 0) == 1)


def insert_new(session: Session, model: type[ModelT], values: dict[str, Any]) -> ModelT | None:
    """:func:`insert_ignore`, and the new row as a persistent object when this call inserted it
    (None when the row was there already)."""
    if not insert_ignore(session, model, values):
        return None
    return _attach(session, model, values)


def insert_row(session: Session, model: type[ModelT], values: dict[str, Any]) -> ModelT:
    """``INSERT`` one row (IntegrityError as a flush would raise it); the row as a persistent
    object."""
    stmt = _insert_statement(_table(model), session.get_bind().dialect.name, ignore=False)
    _execute_insert(session, stmt, values, {})
    return _attach(session, model, values)


@functools.cache
def _nulls(table: Table) -> dict[str, None]:
    """The columns a row leaves NULL when an INSERT does not name them (no default)."""
    return {
        column.key: None
        for column in table.columns
        if column.default is None and column.server_default is None and column.nullable
    }


def _table(model: type[Base]) -> Table:
    table: Table = model.__table__  # type: ignore[assignment]
    return table


@functools.cache
def _insert_statement(table: Table, dialect: str, *, ignore: bool) -> Any:
    if not ignore:
        return table.insert()
    if dialect == "postgresql":
        return postgresql.insert(table).on_conflict_do_nothing()
    if dialect == "sqlite":
        return sqlite.insert(table).on_conflict_do_nothing()
    raise RuntimeError(f"unsupported database {dialect}")  # pragma: no cover


def _execute_insert(
    session: Session, stmt: Any, values: dict[str, Any], options: dict[str, Any]
) -> Any:
    session.flush()  # pending objects first (rows this one may refer to)
    return session.connection().execute(stmt, values, execution_options=options)


def _attach(session: Session, model: type[ModelT], values: dict[str, Any]) -> ModelT:
    # The values as loaded ones (no attribute events, no change history): the row is saved.
    configure_mappers()  # as the model's constructor would (at once when done already)
    row: ModelT = model.__mapper__.class_manager.new_instance()
    row.__dict__.update(_nulls(_table(model)) | values)
    make_transient_to_detached(row)
    session.add(row)
    return row


def conditional_update(model: type[Base], *when: Any, columns: tuple[str, ...]) -> Any:
    """``UPDATE <table> SET <columns> WHERE id = :id AND <when>``, made once (keep it in a
    constant or a cache) and run by :func:`update_if` with its values as parameters."""
    table = _table(model)
    return (
        table.update()
        .where(table.c.id == bindparam("_row_id"), *when)
        .values({name: bindparam(f"_new_{name}") for name in columns})
    )


def update_if(session: Session, row: Any, stmt: Any, values: dict[str, Any]) -> bool:
    """Run a :func:`conditional_update` on ``row``; True when it matched.

    When it matched, ``row`` shows the new values as saved (without reading the row back); when
    it did not, ``row`` is read again, so the caller sees the state that won.
    """
    params = {"_row_id": row.id} | {f"_new_{name}": value for name, value in values.items()}
    session.flush()
    matched = rowcount(session.connection().execute(stmt, params)) == 1
    if matched:
        for name, value in values.items():
            set_committed_value(row, name, value)
    else:
        session.refresh(row)
    return matched


def rowcount(result: Any) -> int:
    """Rows matched by an UPDATE/DELETE (the result of ``session.execute``)."""
    return int(result.rowcount)
