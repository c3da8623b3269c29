"""Stamped copies: one personal copy of a stamped product's file per purchase.

``ensure_stamped`` builds the copy when it is missing (never built, deleted from storage, or
made from a file the seller has since replaced) and records it; the worker runs it right after
the sale (the ``stamp.build`` job), and a download runs it too if the buyer is faster than the
worker. The file is built outside any transaction; recording it is a short compare-and-set, so
two builders racing leave one copy and delete the other. Within one process builders of the
same purchase take turns (:func:`_one_builder`): buyers who start several downloads at once
wait for the one copy instead of each making their own.
"""

from __future__ import annotations

import secrets
import tempfile
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import delete, update
from sqlalchemy.orm import Session

from shipkey.catalog.models import Product
from shipkey.clock import utcnow
from shipkey.db.engine import Database
from shipkey.db.writes import insert_ignore, rowcount
from shipkey.downloads.models import StampedCopy
from shipkey.downloads.stamping import Kind, Stamp, kind_of, stamp_file
from shipkey.orders.models import Purchase, PurchaseStatus
from shipkey.storage import Storage, StoredObject


def stamp_kind(product: Product) -> Kind | None:
    """The stamper a product's downloads go through, or ``None`` when they are not stamped."""
    if not product.stamp or product.file_key is None:
        return None
    return kind_of(product.file_name, product.file_mime_type)


@dataclass(frozen=True)
class _Source:
    purchase_id: str
    kind: Kind
    key: str
    sha256: str
    stamp: Stamp


def _current_copy(session: Session, purchase_id: str, source_sha256: str) -> StampedCopy | None:
    copy = session.get(StampedCopy, purchase_id)
    if copy is None or copy.source_sha256 != source_sha256:
        return None
    return copy


def ready_copy(session: Session, storage: Storage, purchase: Purchase) -> StampedCopy | None:
    """The purchase's stamped copy when it is built from the current file and still stored."""
    product = purchase.product
    if product.file_sha256 is None:
        return None
    copy = _current_copy(session, purchase.id, product.file_sha256)
    if copy is None or not storage.exists(copy.key):
        return None
    return copy


def _source(session: Session, storage: Storage, purchase_id: str) -> _Source | None:
    """What to build from; ``None`` when nothing needs building."""
    purchase = session.get(Purchase, purchase_id)
    if purchase is None:
        return None
    product = purchase.product
    kind = stamp_kind(product)
    if kind is None or product.file_key is None or product.file_sha256 is None:
        return None
    if purchase.status is PurchaseStatus.REFUNDED:  # taken back: no copy to make any more
        return None
    if ready_copy(session, storage, purchase) is not None:
        return None
    stamp = Stamp(email=purchase.email or "", order_id=purchase.id, name=purchase.name)
    return _Source(purchase.id, kind, product.file_key, product.file_sha256, stamp)


_builders_lock = threading.Lock()
_builders: dict[str, tuple[threading.Lock, int]] = {}
"""A lock per purchase whose copy is being looked at, with how many threads hold or await it."""


@contextmanager
def _one_builder(purchase_id: str) -> Iterator[None]:
    """This process's builders of one purchase's copy, one at a time."""
    with _builders_lock:
        lock, users = _builders.get(purchase_id) or (threading.Lock(), 0)
        _builders[purchase_id] = (lock, users + 1)
    try:
        with lock:
            yield
    finally:
        with _builders_lock:
            users = _builders[purchase_id][1] - 1
            if users:
                _builders[purchase_id] = (lock, users)
            else:
                del _builders[purchase_id]


def ensure_stamped(db: Database, storage: Storage, purchase_id: str) -> bool:
    """Build and record the purchase's stamped copy if it is needed; True when one was built.

    Takes the database rather than a session because the copy is made (fetched, stamped,
    stored) between two short transactions: none is open, and no writer waits, while it is
    made. Raises :class:`~shipkey.downloads.stamping.StampError` when the file cannot be
    stamped.
    """
    with _one_builder(purchase_id):
        return _build(db, storage, purchase_id)


def _build(db: Database, storage: Storage, purchase_id: str) -> bool:
    with db.read_session() as session:
        source = _source(session, storage, purchase_id)
    if source is None:
        return False
    key = f"stamped/{source.purchase_id}/{secrets.token_hex(16)}"
    with tempfile.TemporaryDirectory(prefix="shipkey-stamp-") as folder:
        original, stamped = Path(folder) / "original", Path(folder) / "stamped"
        storage.fetch_file(source.key, original)
        stamp_file(source.kind, original, stamped, source.stamp)
        stored = storage.save_file(key, stamped)
    with db.session() as session:
        kept, replaced = _record(session, storage, source, key, stored)
    if not kept:
        storage.delete(key)  # another builder recorded its copy first
    if replaced is not None:
        storage.delete(replaced)
    return kept


def _record(
    session: Session, storage: Storage, source: _Source, key: str, stored: StoredObject
) -> tuple[bool, str | None]:
    """Record the copy stored at ``key``: whether it was kept, and the key of the copy it
    replaced (to delete once committed).

    The purchase row is locked while the copy is recorded, so a refund either waits and then
    finds the copy to discard, or commits first and the copy is not recorded.
    """
    owner = session.get(Purchase, source.purchase_id, with_for_update=True)
    if owner is None or owner.status is PurchaseStatus.REFUNDED:
        return False, None
    values = {
        "source_sha256": source.sha256,
        "key": key,
        "size": stored.size,
        "sha256": stored.sha256,
        "created_at": utcnow(),
    }
    if insert_ignore(session, StampedCopy, {"purchase_id": source.purchase_id, **values}):
        return True, None
    old = session.get(StampedCopy, source.purchase_id)
    if old is None or (old.source_sha256 == source.sha256 and storage.exists(old.key)):
        return False, None
    changed = session.execute(
        update(StampedCopy)
        .where(StampedCopy.purchase_id == old.purchase_id, StampedCopy.key == old.key)
        .values(**values)
        .execution_options(synchronize_session=False)
    )
    if rowcount(changed) != 1:
        return False, None
    return True, old.key


def discard_copy(db: Database, storage: Storage, purchase_id: str) -> bool:
    """Delete a purchase's stamped copy, file and row; True when there was one.

    A refunded purchase's copy carries the buyer's name and address and can never be downloaded
    again. The file goes first: if that fails, the row still points at it and the job retries.
    It takes the database rather than a session because the file is deleted from storage
    between the read of the row and its deletion, with no transaction open.
    """
    with db.read_session() as session:
        copy = session.get(StampedCopy, purchase_id)
        key = copy.key if copy is not None else None
    if key is None:
        return False
    storage.delete(key)
    with db.session() as session:
        session.execute(
            delete(StampedCopy).where(
                StampedCopy.purchase_id == purchase_id, StampedCopy.key == key
            )
        )
    return True
