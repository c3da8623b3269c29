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
import contextlib
import functools
import secrets
import sqlite3
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any, ParamSpec, TypeVar

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
from sqlalchemy.orm import DeclarativeBase, Session, make_transient_to_detached, sessionmaker
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
        if row is None:
            return None
        return tuple(
            value if convert is None or value is None else convert(value)
            for convert, value in zip(processors, row, strict=True)
        )


QUICK_READERS = 8
"""Threads (and so connections) per process for quick reads on PostgreSQL."""


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
        self._readers: ThreadPoolExecutor | None = None
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
        """A Core connection for one quick read statement (hot paths: see :meth:`quick_read`).

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

    async def quick_read(self, read: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
        """``read(…)``, a function that makes one quick read through :meth:`read_connection`,
        called from the event loop.

        On SQLite it runs right there: an indexed read of a local file in WAL mode never waits
        for a lock, and costs less than a trip to a thread. A PostgreSQL server is waited for
        in a few threads of its own, so that few connections stay open for these reads.
        """
        if self.is_sqlite:
            return read(*args, **kwargs)
        with self._held_lock:
            if self._readers is None:
                self._readers = ThreadPoolExecutor(QUICK_READERS, thread_name_prefix="read")
            readers = self._readers
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(readers, functools.partial(read, *args, **kwargs))

    def dispose(self) -> None:
        with self._held_lock:
            readers, self._readers = self._readers, None
        if readers is not None:
            readers.shutdown(wait=True)
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
    # Session.execute flushes pending objects first (rows this one may refer to).
    return session.execute(stmt, values, execution_options=options)


def _attach(session: Session, model: type[ModelT], values: dict[str, Any]) -> ModelT:
    row = model(**(_nulls(_table(model)) | values))
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
    matched = rowcount(session.execute(stmt, params)) == 1
    if matched:
        for name, value in values.items():
            set_committed_value(row, name, value)
    else:
        session.refresh(row)
    return matched


def rowcount(result: Any) -> int:
    """Rows matched by an UPDATE/DELETE (the result of ``session.execute``)."""
    return int(result.rowcount)
