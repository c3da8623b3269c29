"""The networks a license is validated from, for the key-sharing rule (:mod:`shipkey.risk`).

Validation is the hot path and stays a read: it only notes a (license, network, UTC day) it has
not seen in memory (:meth:`NetworkSightings.note`, a set lookup). What was noted is written a
couple of seconds later, in one short transaction for every validation noted meanwhile, by a
thread the event loop starts (:func:`schedule`): one row in ``license_sightings`` per triple,
all in one ``INSERT … ON CONFLICT DO NOTHING`` (so processes that note the same triple write it
once); once that is committed, one query that counts the networks of the batch's licenses in
the last 24 h, and a ``risk.check`` job only for a license seen from more than
``SHIPKEY_RISK_VALIDATION_NETWORKS`` (the rule, :func:`shipkey.risk.rules.key_sharing`, stays
the judge). An honest key is one row a day and no job. A process that stops loses at most the
sightings of its last couple of seconds (the app writes them on shutdown).
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
import weakref
from collections.abc import Iterable
from datetime import date, datetime, timedelta

from sqlalchemy import bindparam, func, select
from sqlalchemy.orm import Session

from shipkey.db.engine import Database
from shipkey.db.writes import insert_ignore_many
from shipkey.jobs import service as jobs
from shipkey.jobs.kinds import RISK_CHECK
from shipkey.licensing.models import LicenseSighting

log = logging.getLogger(__name__)

FLUSH_DELAY = 2.0
"""Seconds between a first new sighting and the write of every sighting noted meanwhile."""
STALE_SCHEDULE = 30.0
"""A write scheduled this long ago that never ran (its event loop ended) is scheduled again."""

SHARING_WINDOW = timedelta(hours=24)
"""The window the key-sharing rule counts networks in (as :mod:`shipkey.risk.rules` does)."""
COUNT_CHUNK = 5_000
"""Licenses counted per query (bound parameters stay well under SQLite's limit)."""

Triple = tuple[str, str, date]

_OVER_LIMIT = (
    select(LicenseSighting.license_id)
    .where(
        LicenseSighting.license_id.in_(bindparam("ids", expanding=True)),
        LicenseSighting.first_at > bindparam("since"),
    )
    .group_by(LicenseSighting.license_id)
    .having(func.count(func.distinct(LicenseSighting.network)) > bindparam("limit"))
)


class NetworkSightings:
    """The sightings of one database: those written or pending, and those pending."""

    def __init__(self, capacity: int = 200_000) -> None:
        self.capacity = capacity
        self._seen: set[Triple] = set()
        self._pending: dict[Triple, datetime] = {}
        self._scheduled_at: float | None = None
        self._lock = threading.Lock()
        self._tasks: set[asyncio.Future[int]] = set()

    def note(self, license_id: str, network: str, now: datetime) -> bool:
        """Note a validation of ``license_id`` from ``network``; True when a write should be
        scheduled (the first pending sighting, or a schedule that never ran)."""
        triple = (license_id, network, now.date())
        if triple in self._seen:  # the usual case: no lock, no write
            return False
        with self._lock:
            if triple in self._seen:
                return False
            if len(self._seen) >= self.capacity:  # a forgotten triple costs one ignored INSERT
                self._seen.clear()
            self._seen.add(triple)
            self._pending[triple] = now
            clock = time.monotonic()
            if self._scheduled_at is not None and clock - self._scheduled_at < STALE_SCHEDULE:
                return False
            self._scheduled_at = clock
            return True

    def flush(self, db: Database, limit: int) -> int:
        """Write what is pending (one transaction), then queue the key-sharing rule for the
        licenses seen from more than ``limit`` networks in 24 h; how many were queued.

        The networks are counted after the write is committed: a flush running at the same
        time in another process (or thread) then sees this one's rows, or this one sees its
        rows, so a key shared across both batches is never counted short by each."""
        with self._lock:
            pending, self._pending = self._pending, {}
            self._scheduled_at = None
        if not pending:
            return 0
        rows = [
            {"license_id": license_id, "day": day, "network": network, "first_at": at}
            for (license_id, network, day), at in pending.items()
        ]
        try:
            with db.session() as session:
                insert_ignore_many(session, LicenseSighting, rows)
        except Exception:
            with self._lock:
                self._seen.difference_update(pending)
            log.exception("could not record %d license sightings", len(pending))
            return 0
        since = max(pending.values()) - SHARING_WINDOW
        licenses = {license_id for license_id, _, _ in pending}
        try:
            with db.read_session() as session:
                over = over_limit(session, licenses, since, limit)
            if over:
                with db.session() as session:
                    for license_id in over:
                        jobs.enqueue(session, RISK_CHECK, {"license_id": license_id})
        except Exception:
            log.exception("could not check %d licenses' networks for sharing", len(licenses))
            return 0
        return len(over)

    def schedule(self, db: Database, limit: int) -> None:
        """Write the pending sightings in :data:`FLUSH_DELAY` seconds, off the event loop."""
        loop = asyncio.get_running_loop()

        def start() -> None:
            task = asyncio.ensure_future(asyncio.to_thread(self.flush, db, limit))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

        loop.call_later(FLUSH_DELAY, start)


_BY_DATABASE: weakref.WeakKeyDictionary[Database, NetworkSightings] = weakref.WeakKeyDictionary()
_REGISTRY_LOCK = threading.Lock()


def sightings_of(db: Database) -> NetworkSightings:
    found = _BY_DATABASE.get(db)
    if found is None:
        with _REGISTRY_LOCK:
            found = _BY_DATABASE.setdefault(db, NetworkSightings())
    return found


def over_limit(session: Session, licenses: Iterable[str], since: datetime, limit: int) -> list[str]:
    """Those of ``licenses`` seen from more than ``limit`` networks since ``since`` (one query
    per :data:`COUNT_CHUNK` licenses, on the table's primary key)."""
    ids = sorted(licenses)
    over: list[str] = []
    for start in range(0, len(ids), COUNT_CHUNK):
        params = {"ids": ids[start : start + COUNT_CHUNK], "since": since, "limit": limit}
        over.extend(session.scalars(_OVER_LIMIT, params))
    return over


def flush(db: Database, limit: int) -> int:
    """Write the database's pending sightings now (on shutdown; tests); ``limit`` is
    ``SHIPKEY_RISK_VALIDATION_NETWORKS``."""
    return sightings_of(db).flush(db, limit)
