"""Shared fixtures: every database test runs on SQLite and on PostgreSQL.

PostgreSQL comes from ``SHIPKEY_TEST_DATABASE_URL`` (``make test`` and ``.ci/run`` set it); each
pytest worker gets its own database, migrated once, and tables are emptied between tests.
SQLite gets a fresh copy of a migrated template file per test.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import shutil
import socket
import sqlite3
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import uvicorn
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import create_engine, make_url, text
from sqlalchemy.orm import Session

from shipkey import migrate
from shipkey.app import create_app
from shipkey.config import Settings
from shipkey.db.engine import Database
from shipkey.db.types import Base
from shipkey.http.fast_lane import FastLane
from shipkey.storage import Storage, storage_for
from tests.needs import missing, sentence

# The moto S3 server, and browser fixtures (a live site with SMTP, Debian's Chromium).
pytest_plugins = ["tests.s3_server", "tests.browser"]

ADMIN_TOKEN = "sk_admin_test-token-for-the-suite"
SECRET = "test-secret-key-that-is-long-enough-for-hmac"


def _needs_of(item: pytest.Item) -> set[str]:
    """The outside programs a test starts (tests/needs.py names them and their packages)."""
    needs = {name for mark in item.iter_markers("needs") for name in mark.args}
    if item.get_closest_marker("browser"):
        needs.add("chromium")
    if "axe" in getattr(item, "fixturenames", ()):
        needs.add("axe-core")
    callspec = getattr(item, "callspec", None)
    if callspec is not None and callspec.params.get("download_mode") == "x-accel":
        needs.add("nginx")
    return needs


def pytest_collection_modifyitems(session: pytest.Session, items: list[pytest.Item]) -> None:
    """A run whose tests need a program that is not installed stops before the first test,
    with one sentence naming the package; such a test never errors, skips or passes alone."""
    absent = missing(sorted(set().union(*(_needs_of(item) for item in items))))
    if absent:
        pytest.exit(sentence(absent), returncode=pytest.ExitCode.USAGE_ERROR)


def _worker() -> str:
    return os.environ.get("PYTEST_XDIST_WORKER", "main")


def _checkout() -> str:
    """A short tag for this checkout, so two checkouts can test against one server at once."""
    return hashlib.sha256(str(Path(__file__).resolve().parent).encode()).hexdigest()[:8]


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("template") / "template.db"
    db = Database(f"sqlite:///{path}")
    migrate.upgrade(db.engine)
    db.dispose()
    with contextlib.closing(sqlite3.connect(path, isolation_level=None)) as conn:
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    return path


@pytest.fixture(scope="session")
def postgres_url() -> str:
    base = os.environ.get("SHIPKEY_TEST_DATABASE_URL")
    if not base:
        raise RuntimeError("SHIPKEY_TEST_DATABASE_URL is not set; `make test` and .ci/run set it.")
    url = make_url(base)
    name = f"shipkey_test_{_checkout()}_{_worker()}"
    admin = create_engine(url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    test_url = url.set(database=name).render_as_string(hide_password=False)
    db = Database(test_url)
    migrate.upgrade(db.engine)
    db.dispose()
    return test_url


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path, sqlite_template: Path) -> str:
    if request.param == "sqlite":
        path = tmp_path / "shipkey.db"
        shutil.copyfile(sqlite_template, path)
        return f"sqlite:///{path}"
    url: str = request.getfixturevalue("postgres_url")
    engine = create_engine(url)
    tables = ", ".join(f'"{t.name}"' for t in Base.metadata.sorted_tables)
    with engine.begin() as conn:
        conn.execute(text(f"TRUNCATE {tables} RESTART IDENTITY CASCADE"))
    engine.dispose()
    return url


@pytest.fixture
def settings_overrides() -> dict[str, Any]:
    """Settings a test package changes (the download tests: storage and download mode)."""
    return {}


@pytest.fixture
def settings(database_url: str, tmp_path: Path, settings_overrides: dict[str, Any]) -> Settings:
    return Settings(
        _env_file=None,
        data_dir=tmp_path / "data",
        database_url=database_url,
        secret_key=SECRET,
        admin_token=ADMIN_TOKEN,
        base_url="http://testserver",
        rate_limits="off",
        **settings_overrides,
    )


@pytest.fixture
def db(settings: Settings) -> Iterator[Database]:
    database = Database(settings.resolved_database_url)
    yield database
    database.dispose()


@pytest.fixture
def session(db: Database) -> Iterator[Session]:
    with db.session() as s:
        yield s


@pytest.fixture
def storage(settings: Settings) -> Storage:
    return storage_for(settings)


@pytest.fixture
def app(settings: Settings, db: Database, storage: Storage) -> FastLane:
    return create_app(settings, db=db, storage=storage)


@pytest.fixture
def client(app: FastAPI) -> Iterator[TestClient]:
    with TestClient(app) as test_client:
        yield test_client


@pytest.fixture
def admin(app: FastAPI) -> Iterator[TestClient]:
    """A client that sends the admin token."""
    with TestClient(app, headers={"Authorization": f"Bearer {ADMIN_TOKEN}"}) as test_client:
        yield test_client


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def serve(app: Any, port: int) -> tuple[uvicorn.Server, threading.Thread]:
    """``app`` behind uvicorn on loopback ``port`` in a thread, once it accepts connections.
    proxy_headers=False: shipkey itself decides whom to believe (SHIPKEY_TRUSTED_PROXIES)."""
    config = uvicorn.Config(
        app, host="127.0.0.1", port=port, log_level="warning", proxy_headers=False
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("test server did not start")
        time.sleep(0.01)
    return server, thread


@pytest.fixture
def live_server(app: FastAPI) -> Iterator[str]:
    """The app behind a real HTTP server on loopback, for parallel and byte-level tests."""
    port = _free_port()
    server, thread = serve(app, port)
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(timeout=10)
