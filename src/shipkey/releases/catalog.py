"""The releases of each product, kept in memory for the update check.

Programs check for updates at every start, as they validate: the check must cost about what a
validation costs. The license is read fresh on every check (one query, as validation reads
it); the product's releases, which change a few times a month, are read at most once a
second per product and process (:data:`FRESH_SECONDS`) into immutable snapshots, already
sorted by version. So a version published or yanked here shows at once in this process (the
admin paths call :meth:`ReleaseCatalog.forget`) and within a second in every other; a yanked
release's files are refused at once everywhere, as their links check the database.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from datetime import datetime

from packaging.version import Version
from sqlalchemy import select

from shipkey.catalog.models import Product
from shipkey.db.engine import Database
from shipkey.releases.models import Channel, Release
from shipkey.releases.versions import parse_version

FRESH_SECONDS = 1.0


@dataclass(frozen=True, slots=True)
class FileFacts:
    id: str
    file_name: str
    file_key: str
    size: int
    sha256: str
    platform: str
    arch: str
    signature: str
    kid: str


@dataclass(frozen=True, slots=True)
class ReleaseFacts:
    id: str
    version: str
    key: Version
    channel: Channel
    notes: str
    published_at: datetime
    yanked: bool
    files: tuple[FileFacts, ...]


class ReleaseCatalog:
    """Snapshots of each product's releases, newest version first (see the module)."""

    def __init__(self, db: Database, fresh_seconds: float = FRESH_SECONDS) -> None:
        self._db = db
        self._fresh = fresh_seconds
        self._cache: dict[str, tuple[float, tuple[ReleaseFacts, ...]]] = {}
        self._locks: dict[str, asyncio.Lock] = {}

    def forget(self, product_slug: str | None = None) -> None:
        """Read again on the next check (one product, or all)."""
        if product_slug is None:
            self._cache.clear()
        else:
            self._cache.pop(product_slug, None)

    async def releases(self, product_slug: str) -> tuple[ReleaseFacts, ...]:
        cached = self._cache.get(product_slug)
        if cached is not None and time.monotonic() - cached[0] < self._fresh:
            return cached[1]
        lock = self._locks.setdefault(product_slug, asyncio.Lock())
        async with lock:  # one read per product, however many checks wait for it
            cached = self._cache.get(product_slug)
            if cached is not None and time.monotonic() - cached[0] < self._fresh:
                return cached[1]
            started = time.monotonic()
            snapshot = await asyncio.to_thread(self._read, product_slug)
            self._cache[product_slug] = (started, snapshot)
            return snapshot

    def _read(self, product_slug: str) -> tuple[ReleaseFacts, ...]:
        with self._db.read_session() as session:
            rows = session.scalars(
                select(Release)
                .join(Product, Product.id == Release.product_id)
                .where(Product.slug == product_slug)
            ).all()
            facts = [
                ReleaseFacts(
                    id=r.id,
                    version=r.version,
                    key=parse_version(r.normalized),
                    channel=Channel(r.channel),
                    notes=r.notes,
                    published_at=r.published_at,
                    yanked=r.yanked,
                    files=tuple(
                        FileFacts(
                            a.id,
                            a.file_name,
                            a.file_key,
                            a.size,
                            a.sha256,
                            a.platform,
                            a.arch,
                            a.signature,
                            a.kid,
                        )
                        for a in r.artifacts
                    ),
                )
                for r in rows
            ]
        return tuple(sorted(facts, key=lambda f: f.key, reverse=True))
