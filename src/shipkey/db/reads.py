"""Direct reads for hot paths: a statement compiled once and run on the driver's cursor,
and on PostgreSQL, reads of one event-loop turn made as one statement."""

from __future__ import annotations

import asyncio
import collections
import weakref
from collections.abc import Awaitable, Callable, Sequence
from typing import TYPE_CHECKING, Any, ParamSpec, TypeVar

from sqlalchemy.engine import Connection, Dialect
from sqlalchemy.exc import DBAPIError
from sqlalchemy.sql import Select

if TYPE_CHECKING:
    import psycopg  # PostgreSQL only: loaded by the readers that use it, never on SQLite

P = ParamSpec("P")
R = TypeVar("R")
T = TypeVar("T")


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
        import psycopg

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
