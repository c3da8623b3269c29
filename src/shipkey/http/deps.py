"""Request-scoped dependencies: settings, the unit of work, storage, the caller."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass
from typing import Annotated, Concatenate, ParamSpec, TypeVar

import anyio
from fastapi import Depends, Query, Request
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel, ValidationError
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

from shipkey.config import Settings
from shipkey.db.engine import Database
from shipkey.db.group_commit import GroupCommit
from shipkey.db.paging import DEFAULT_LIMIT, MAX_LIMIT
from shipkey.http.net import Client, client_ip
from shipkey.storage import Storage


def get_settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


def get_database(request: Request) -> Database:
    db: Database = request.app.state.db
    return db


def get_storage(request: Request) -> Storage:
    storage: Storage = request.app.state.storage
    return storage


P = ParamSpec("P")
T = TypeVar("T")
M = TypeVar("M", bound=BaseModel)


async def json_body(request: Request, model: type[M]) -> M:
    """The request's JSON body as ``model``, answered as FastAPI answers a declared body
    (400 ``INVALID_JSON``, 422 ``VALIDATION_ERROR`` naming the field), for a hot route that
    reads it itself: FastAPI solving a body parameter and its dependencies costs more than the
    rest of a license validation. The route declares the body with ``openapi_extra``."""
    body = await request.body()
    if not body:
        missing = {"type": "missing", "loc": ("body",), "msg": "Field required", "input": None}
        raise RequestValidationError([missing])
    try:
        return model.model_validate_json(body)
    except ValidationError as exc:
        errors = [{**err, "loc": ("body", *err["loc"])} for err in exc.errors(include_url=False)]
        raise RequestValidationError(errors) from None


def json_body_openapi(model: type[BaseModel]) -> dict[str, object]:
    """``openapi_extra`` for a route that reads ``model`` with :func:`json_body`."""
    schema = model.model_json_schema(by_alias=True)
    return {"requestBody": {"required": True, "content": {"application/json": {"schema": schema}}}}


WRITERS_SQLITE = 1
WRITERS_POSTGRESQL = 24
WEBHOOK_WRITERS_POSTGRESQL = 4
"""Webhook transactions one process runs at once on PostgreSQL. More add threads that wake for
every round trip and wait for the interpreter's lock: with 24, 120–123 orders/s at 8.3–8.5 ms
of server CPU per event; with 4, 119–147 at 6.7–8.2 ms (bench.webhooks, one worker, alternated
runs)."""


def _write_slots(request: Request) -> anyio.Semaphore:
    state = request.app.state
    slots: anyio.Semaphore | None = getattr(state, "write_slots", None)
    if slots is None:
        db = get_database(request)
        slots = anyio.Semaphore(WRITERS_SQLITE if db.is_sqlite else WRITERS_POSTGRESQL)
        state.write_slots = slots
    return slots


async def write_slot(request: Request) -> AsyncIterator[None]:
    """A place among the requests that write, taken in the event loop before any thread or
    connection is: SQLite has one writer at a time anyway, and requests queued here hold no
    threadpool thread, so a burst of writers cannot starve the thread that would commit and
    release the lock (or PostgreSQL's connection pool)."""
    async with _write_slots(request):
        yield


async def grouped_write(
    request: Request, work: Callable[Concatenate[Session, P], T], *args: P.args, **kwargs: P.kwargs
) -> T:
    """``work(session, …)`` committed before this returns, for a route that takes bursts
    (Stripe's webhook): the work of requests that arrive together is committed in one
    transaction, each in its own savepoint (:mod:`shipkey.db.group_commit`), and the writer's
    place is taken as :func:`write_slot` does."""
    state = request.app.state
    group: GroupCommit | None = getattr(state, "group_commit", None)
    if group is None:
        db = get_database(request)
        slots = _write_slots(request)
        if db.is_sqlite:
            group = GroupCommit(db, slots, writers=WRITERS_SQLITE)
        else:  # side by side, each in its own transaction (see shipkey.db.group_commit)
            group = GroupCommit(db, slots, writers=WEBHOOK_WRITERS_POSTGRESQL, batch=1)
        state.group_commit = group
    return await group.run(lambda session: work(session, *args, **kwargs))


async def write(
    request: Request, work: Callable[Concatenate[Session, P], T], *args: P.args, **kwargs: P.kwargs
) -> T:
    """``work(session, …)`` in a transaction of its own, committed before this returns, the
    writer's place taken as :func:`write_slot` takes it, for a route that must do slow work
    before it writes (a download building the buyer's stamped copy): with ``DbSession`` the
    place is taken before the handler starts, and held through that work, while sales wait."""
    db = get_database(request)
    async with _write_slots(request):
        return await run_in_threadpool(lambda: db.run(work, *args, **kwargs))


def write_session(
    request: Request, _slot: Annotated[None, Depends(write_slot, scope="function")]
) -> Iterator[Session]:
    """One transaction per request, committed after the handler returns, before the answer."""
    with get_database(request).session() as session:
        yield session


def read_session(request: Request) -> Iterator[Session]:
    with get_database(request).read_session() as session:
        yield session


def get_client(request: Request) -> Client:
    return Client(ip=get_client_ip(request), user_agent=request.headers.get("user-agent"))


def get_client_ip(request: Request) -> str | None:
    """The client's address (see :func:`shipkey.http.net.client_ip`), read straight from the ASGI
    scope: the hot routes need nothing else of the request's headers."""
    scope = request.scope
    peer = scope.get("client")
    forwarded = None
    for name, value in scope["headers"]:
        if name == b"x-forwarded-for":
            forwarded = value.decode("latin-1")
            break
    trusted = get_settings(request).trusted_networks
    return client_ip(peer[0] if peer else None, forwarded, trusted)


# FastAPI runs a plain ``def`` dependency in the thread pool: one thread hop per dependency per
# request, which costs more than the work itself (the event loop waits for the GIL each time).
# These read request state without blocking, so the dependencies are coroutines.


async def _settings(request: Request) -> Settings:
    return get_settings(request)


async def _database(request: Request) -> Database:
    return get_database(request)


async def _storage(request: Request) -> Storage:
    return get_storage(request)


async def _client(request: Request) -> Client:
    return get_client(request)


SettingsDep = Annotated[Settings, Depends(_settings)]
DatabaseDep = Annotated[Database, Depends(_database)]
StorageDep = Annotated[Storage, Depends(_storage)]
DbSession = Annotated[Session, Depends(write_session, scope="function")]
ReadSession = Annotated[Session, Depends(read_session, scope="function")]
ClientDep = Annotated[Client, Depends(_client)]


@dataclass(frozen=True)
class PageQuery:
    """``?limit=`` (1–100, default 20) and ``?cursor=`` of a list (see :mod:`shipkey.db.paging`)."""

    limit: int
    cursor: str | None


async def _page_query(
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT, description="Items per page.")] = DEFAULT_LIMIT,
    cursor: Annotated[
        str | None,
        Query(
            min_length=1,
            max_length=200,
            pattern=r"^[A-Za-z0-9_-]+$",
            description="The `nextCursor` of the previous page.",
        ),
    ] = None,
) -> PageQuery:
    return PageQuery(limit, cursor)


PageParams = Annotated[PageQuery, Depends(_page_query)]
