"""Licensed products and keys for the licensing tests, made through the real API."""

from __future__ import annotations

import hashlib
import hmac
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from typing import Any
from unittest.mock import patch

import httpx
import httpx2
from fastapi.testclient import TestClient
from sqlalchemy import Engine, event, select, update
from sqlalchemy.engine import Connection, Dialect

from shipkey.db.engine import Database
from shipkey.db.reads import DirectRead
from shipkey.licensing.foreign import POLL_THREAD
from shipkey.licensing.models import License
from tests.conftest import SECRET
from tests.factories import create_product, create_purchase

CHECKSUM_SECRET = hmac.new(
    SECRET.encode(), b"shipkey/license-key-checksum", hashlib.sha256
).hexdigest()
"""The secret in the checksums of the keys the tests' server issues (derived from SECRET)."""

Client = TestClient | httpx.Client
Response = httpx.Response | httpx2.Response
"""The test client speaks httpx2; real-server tests use httpx."""


def licensed_product(admin: TestClient, **fields: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "name": "Pixel App",
        "slug": "pixel-app",
        "type": "LICENSE",
        "maxActivations": 3,
        "metadata": {"features": ["export", "sync"]},
    }
    body.update(fields)
    return create_product(admin, **body)


def buy(admin: TestClient, product: str = "pixel-app", **fields: Any) -> tuple[str, str]:
    """A completed purchase of ``product``: its id and its license key."""
    purchase = create_purchase(admin, product, **fields)
    assert len(purchase["licenses"]) == 1, purchase
    return purchase["id"], purchase["licenses"][0]["key"]


def licensed_key(admin: TestClient, **product_fields: Any) -> str:
    licensed_product(admin, **product_fields)
    return buy(admin)[1]


def activate(client: Client, key: str, machine: str, **extra: Any) -> Response:
    return client.post(
        "/api/licenses/activate", json={"licenseKey": key, "machineId": machine, **extra}
    )


def deactivate(client: Client, key: str, machine: str) -> Response:
    return client.delete("/api/licenses/activate", params={"key": key, "machineId": machine})


def validate(client: Client, key: str, machine: str | None = None) -> dict[str, Any]:
    body: dict[str, Any] = {"licenseKey": key}
    if machine is not None:
        body["machineId"] = machine
    response = client.post("/api/licenses/validate", json=body)
    assert response.status_code == 200, response.text
    result: dict[str, Any] = response.json()
    return result


def set_expiry(db: Database, key: str, moment: datetime | None) -> None:
    with db.session() as session:
        session.execute(update(License).where(License.key == key).values(expires_at=moment))


def load(db: Database, key: str) -> License:
    with db.read_session() as session:
        return session.scalars(select(License).where(License.key == key)).one()


@contextmanager
def count_queries(engine: Engine) -> Iterator[list[str]]:
    """Every SQL statement sent on ``engine`` inside the block, including the reads that go to
    the driver directly (``DirectRead``, which SQLAlchemy's events do not see), except the
    server's own look for foreign keys every few seconds (its thread, ``POLL_THREAD``), which
    no request makes."""
    statements: list[str] = []

    def record(
        _conn: object, _cursor: object, statement: str, *_args: object, **_kwargs: object
    ) -> None:
        if threading.current_thread().name != POLL_THREAD:
            statements.append(statement)

    direct = DirectRead.first

    def first(
        read: DirectRead, conn: Connection, params: dict[str, str | None]
    ) -> tuple[Any, ...] | None:
        if conn.engine.pool is engine.pool:  # the engine, or one of its option engines
            statements.append(read.sql(conn.dialect))
        return direct(read, conn, params)

    direct_on_loop = DirectRead.first_async

    async def first_async(
        read: DirectRead, conn: Any, dialect: Dialect, params: dict[str, str | None]
    ) -> tuple[Any, ...] | None:
        if dialect is engine.dialect:
            statements.append(read.sql(dialect))
        return await direct_on_loop(read, conn, dialect, params)

    all_on_loop = DirectRead.all_async

    async def all_async(
        read: DirectRead, conn: Any, dialect: Dialect, params: dict[str, Any]
    ) -> list[tuple[Any, ...]]:
        if dialect is engine.dialect:
            statements.append(read.sql(dialect))
        return await all_on_loop(read, conn, dialect, params)

    event.listen(engine, "before_cursor_execute", record)
    try:
        with (
            patch.object(DirectRead, "first", first),
            patch.object(DirectRead, "first_async", first_async),
            patch.object(DirectRead, "all_async", all_async),
        ):
            yield statements
    finally:
        event.remove(engine, "before_cursor_execute", record)
