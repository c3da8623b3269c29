"""A command's single read through the DB-API driver, without SQLAlchemy.

Importing SQLAlchemy takes 0.12–0.18 s of CPU, more than a quick read-only command may spend in
all (``shipkey products list``). For a plain SQLite URL such a command opens the file with
``sqlite3`` (autocommit: the statement is its own snapshot, as
:meth:`shipkey.db.engine.Database.read_connection` reads); any other URL goes through the
engine as before.
"""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Iterator
from contextlib import closing, contextmanager
from urllib.parse import quote

SQLITE_PREFIXES = ("sqlite:///", "sqlite+pysqlite:///")
BUSY_TIMEOUT = 30.0
"""Seconds a statement waits for a lock, as the engine's SQLite connections do."""


def sqlite_file(url: str) -> str | None:
    """The file of a plain SQLite URL, as SQLAlchemy reads it (``sqlite:///relative.db``,
    ``sqlite:////absolute.db``); None for anything else (another database, memory, a query
    string or escaped characters), which is read through SQLAlchemy."""
    for prefix in SQLITE_PREFIXES:
        if url.startswith(prefix):
            path = url[len(prefix) :]
            if path and path != ":memory:" and not any(c in path for c in "?#%"):
                return path
    return None


@contextmanager
def sqlite_reader(path: str) -> Iterator[sqlite3.Connection]:
    """A connection to the SQLite file ``path`` for reads (no transaction is opened). The file
    is opened read-only: a missing one is an error ("unable to open database file"), not a new
    empty database left behind."""
    uri = f"file:{quote(os.path.abspath(path))}?mode=ro"
    with closing(
        sqlite3.connect(uri, uri=True, timeout=BUSY_TIMEOUT, isolation_level=None)
    ) as conn:
        yield conn
