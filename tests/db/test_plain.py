"""Which URLs a command reads through sqlite3 alone, and which through SQLAlchemy."""

from __future__ import annotations

import pytest
from sqlalchemy.engine import make_url

from shipkey.db.plain import sqlite_file


@pytest.mark.parametrize(
    "url",
    ["sqlite:///shipkey.db", "sqlite:////srv/shipkey/var/shipkey.db", "sqlite+pysqlite:///a/b.db"],
)
def test_a_plain_sqlite_url_is_the_file_sqlalchemy_opens(url: str) -> None:
    assert sqlite_file(url) == make_url(url).database


@pytest.mark.parametrize(
    "url",
    [
        "postgresql+psycopg://postgres@127.0.0.1:5432/shipkey",
        "sqlite://",
        "sqlite:///:memory:",
        "sqlite:///file:shipkey.db?mode=ro&uri=true",
        "sqlite:///with%20space.db",
        "sqlite+aiosqlite:///shipkey.db",
    ],
)
def test_anything_else_goes_through_sqlalchemy(url: str) -> None:
    assert sqlite_file(url) is None
