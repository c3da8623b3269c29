"""Whether the store holds license keys made elsewhere, so that a malformed key can be refused
before any lookup when no such key exists.

A key that is not in shipkey's format may still be valid: an imported key or one from a key
pool, kept verbatim and found by exact match (:func:`shipkey.licensing.lookups.find_verbatim`,
the validation's ``_VERBATIM_LOOKUP``). That lookup costs an indexed read for every malformed
key, in a store that has none of those keys too. :class:`ForeignKeys` is one flag per database,
``present``, that the lookups read first (an attribute read, no query):

- it starts true (every lookup made, as without the flag) until the first check; the server
  checks at start and then every :data:`POLL_SECONDS` in a thread of its own
  (:func:`watching`), while it is false, so a key imported or pooled by another process (the
  command line, another worker) is found within a few seconds;
- the process that imports keys or fills a pool sets it at once (:func:`note`);
- once true it stays true: keys made elsewhere are rarely deleted, and a needless lookup is
  only what every malformed key cost before.

The check is two indexed reads: any key pool row (claimed keys stay in the table) or any
purchase made by an import (``source`` ``import:<format>``, the unique index on ``(source,
external_id)``). Every key made elsewhere came one of these two ways; an import whose keys
were all in shipkey's format sets the flag too, which costs lookups, never a valid key.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import weakref
from collections.abc import Iterator
from typing import Any

from sqlalchemy import Engine, Pool, exists, or_, select
from sqlalchemy.orm import Session

from shipkey.db.engine import Database
from shipkey.licensing.models import PoolKey
from shipkey.orders.models import Purchase

log = logging.getLogger(__name__)

POLL_SECONDS = 2.0
"""How often a server that holds no foreign keys looks again."""
POLL_THREAD = "shipkey-foreign-keys"
"""The name of the thread that looks (tests tell its statements from the requests')."""
IMPORT_SOURCES = ("import:generic", "import:gumroad", "import:lemonsqueezy", "import:keygen")
"""The ``source`` of an imported purchase, one per import format (``shipkey.imports``)."""

_ANY = select(
    or_(
        exists(select(PoolKey.id)),
        exists(select(Purchase.id).where(Purchase.source.in_(IMPORT_SOURCES))),
    )
)


class ForeignKeys:
    """The flag of one database: ``present`` is false only when a check found no key made
    elsewhere and none was noted since."""

    def __init__(self) -> None:
        self.present = True
        self._noted = False
        self._lock = threading.Lock()

    def check(self, engine: Engine) -> bool:
        """Look (two indexed reads); the flag as it now is."""
        with engine.connect() as connection:
            found = bool(connection.scalar(_ANY))
        with self._lock:
            self.present = found or self._noted
        return self.present

    def note(self) -> None:
        """Keys made elsewhere were written (or are being written) by this process."""
        with self._lock:
            self._noted = True
            self.present = True


_BY_POOL: weakref.WeakKeyDictionary[Pool, ForeignKeys] = weakref.WeakKeyDictionary()
_REGISTRY_LOCK = threading.Lock()


_ON_DATABASE = "_shipkey_foreign_keys"
"""Where a :class:`Database` keeps its flag once asked (one dictionary read on the hot path)."""


def foreign_keys(bind: Database | Engine | Any) -> ForeignKeys:
    """The flag of the database ``bind`` (a :class:`Database`, an engine or a connection)
    belongs to; one per connection pool, which a database's engines share."""
    if isinstance(bind, Database):
        kept: ForeignKeys | None = bind.__dict__.get(_ON_DATABASE)
        if kept is not None:
            return kept
    pool: Pool = bind.engine.pool
    found = _BY_POOL.get(pool)
    if found is None:
        with _REGISTRY_LOCK:
            found = _BY_POOL.setdefault(pool, ForeignKeys())
    if isinstance(bind, Database):
        bind.__dict__[_ON_DATABASE] = found
    return found


def may_exist(session: Session) -> bool:
    """Whether a key made elsewhere may be stored (false: a malformed key matches none)."""
    return foreign_keys(session.get_bind()).present


def note(bind: Database | Engine | Session) -> None:
    """Keys made elsewhere are being stored in this database (an import, a key pool)."""
    engine = bind.get_bind() if isinstance(bind, Session) else bind
    foreign_keys(engine).note()


@contextlib.contextmanager
def watching(db: Database, poll: float = POLL_SECONDS) -> Iterator[ForeignKeys]:
    """Check now, then every ``poll`` seconds in a thread while no such key is stored, until
    the block ends."""
    flag = foreign_keys(db)
    try:
        flag.check(db.engine)
    except Exception:  # the database not reachable yet: lookups are made until it is
        log.exception("could not check for license keys made elsewhere")
    stop = threading.Event()

    def run() -> None:
        while not flag.present and not stop.wait(poll):
            try:
                flag.check(db.engine)
            except Exception:
                log.exception("could not check for license keys made elsewhere")

    thread = threading.Thread(target=run, name=POLL_THREAD, daemon=True)
    thread.start()
    try:
        yield flag
    finally:
        stop.set()
        thread.join()
