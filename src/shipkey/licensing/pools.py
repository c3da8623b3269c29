"""Key pools: license keys the seller made elsewhere, handed out in order instead of generated.

A product with a pool (any key ever added: ``Product.key_pool``) gives each sale the oldest
free key. Claiming is a conditional UPDATE
(``… SET claimed_at = now WHERE id = :id AND claimed_at IS NULL``), the counter and the check
at once: two sales that pick the same key cannot both change it, and
the loser takes the next. On PostgreSQL the pick skips keys another transaction is claiming
(``FOR UPDATE SKIP LOCKED``), so parallel sales do not queue behind one row; SQLite has one
writer at a time anyway.

With the pool empty, the sale waits (a :class:`PoolWait`): everything else is delivered, and
:func:`fill_waits` gives the waiting sales their keys, oldest first, when keys are added.
Pool keys are verbatim (any format): their licenses are found by exact match.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from shipkey.catalog.models import Product
from shipkey.clock import utcnow
from shipkey.db.writes import insert_ignore, insert_new, rowcount
from shipkey.ids import new_id
from shipkey.licensing import foreign, issuing, keys
from shipkey.licensing.models import License, PoolKey, PoolWait
from shipkey.orders.models import Purchase

CLAIM_ATTEMPTS = 50
MAX_KEYS_PER_UPLOAD = 100_000


@dataclass(frozen=True)
class Added:
    added: int
    duplicates: int
    available: int


def available(session: Session, product_id: str) -> int:
    """How many keys of the product's pool are still free."""
    count = session.scalar(
        select(func.count())
        .select_from(PoolKey)
        .where(PoolKey.product_id == product_id, PoolKey.claimed_at.is_(None))
    )
    return int(count or 0)


def pool_key(raw: str, secret: keys.KeySecret) -> str | None:
    """A line as the pool keeps it: a key of shipkey's own format normalised, any other kept
    verbatim (trimmed); None for what cannot be a key (too long, control characters, or
    shipkey's format with a checksum of a secret that is not configured)."""
    native = keys.parse_key(raw, secret)
    return native if native is not None else keys.verbatim_key(raw)


def add_keys(
    session: Session, product: Product, lines: Iterable[str], secret: keys.KeySecret
) -> Added:
    """Add keys (one a line; blank lines ignored) in the order given. A key already in any pool
    or on any license counts as a duplicate and is not added, as does a line that cannot be a
    key (see :func:`pool_key`)."""
    now = utcnow()
    added = duplicates = 0
    seen: set[str] = set()
    for seq, line in enumerate(lines):
        key = pool_key(line, secret)
        if key is None:
            if line.strip():
                duplicates += 1  # nothing that could be handed out
            continue
        if key in seen or session.scalar(select(License.id).where(License.key == key)):
            duplicates += 1
            continue
        seen.add(key)
        row = {
            "id": new_id("pk"),
            "product_id": product.id,
            "key": key,
            "seq": seq,
            "created_at": now,
            "license_id": None,
            "claimed_at": None,
        }
        if insert_ignore(session, PoolKey, row):
            added += 1
        else:
            duplicates += 1
    if added:
        foreign.note(session)  # its keys validate in this process at once (others poll)
    if added and not product.key_pool:
        session.execute(
            update(Product)
            .where(Product.id == product.id)
            .values(key_pool=True)
            .execution_options(synchronize_session=False)
        )
        product.key_pool = True
    return Added(added, duplicates, available(session, product.id))


def claim(session: Session, product_id: str, now: datetime) -> PoolKey | None:
    """The oldest free key of the pool, claimed for this transaction; None when it is empty."""
    skip_locked = session.get_bind().dialect.name == "postgresql"
    for _ in range(CLAIM_ATTEMPTS):
        pick = (
            select(PoolKey.id)
            .where(PoolKey.product_id == product_id, PoolKey.claimed_at.is_(None))
            .order_by(PoolKey.created_at, PoolKey.seq)
            .limit(1)
        )
        if skip_locked:
            pick = pick.with_for_update(skip_locked=True)
        key_id = session.scalar(pick)
        if key_id is None:
            return None
        taken = session.execute(
            update(PoolKey)
            .where(PoolKey.id == key_id, PoolKey.claimed_at.is_(None))
            .values(claimed_at=now)
            .execution_options(synchronize_session=False)
        )
        if rowcount(taken) == 1:
            return session.get(PoolKey, key_id, populate_existing=True)
    return None  # pragma: no cover (a pool emptied under us fifty times)


def issue_from_pool(
    session: Session, purchase: Purchase, secret: str, now: datetime
) -> License | None:
    """The purchase's license with the pool's next key; None (and the purchase waits) when the
    pool is empty."""
    pooled = claim(session, purchase.product_id, now)
    if pooled is None:
        insert_new(
            session,
            PoolWait,
            {
                "id": new_id("pw"),
                "purchase_id": purchase.id,
                "product_id": purchase.product_id,
                "created_at": now,
                "filled_at": None,
            },
        )
        return None
    lic = issuing.issue_for_purchase(session, purchase, secret, now, key=pooled.key)
    pooled.license_id = lic.id
    return lic


def waiting(session: Session, product_id: str) -> list[PoolWait]:
    """The product's sales that wait for a key, oldest first."""
    return list(
        session.scalars(
            select(PoolWait)
            .where(PoolWait.product_id == product_id, PoolWait.filled_at.is_(None))
            .order_by(PoolWait.created_at, PoolWait.id)
        )
    )


def fill(session: Session, wait: PoolWait, purchase: Purchase, secret: str) -> License | None:
    """The waiting purchase's license from the pool; None when the pool is empty again."""
    now = utcnow()
    pooled = claim(session, wait.product_id, now)
    if pooled is None:
        return None
    changed = session.execute(
        update(PoolWait)
        .where(PoolWait.id == wait.id, PoolWait.filled_at.is_(None))
        .values(filled_at=now)
        .execution_options(synchronize_session=False)
    )
    if rowcount(changed) != 1:  # filled by a concurrent upload: give the key back
        session.execute(update(PoolKey).where(PoolKey.id == pooled.id).values(claimed_at=None))
        return None
    lic = issuing.issue_for_purchase(session, purchase, secret, now, key=pooled.key)
    pooled.license_id = lic.id
    return lic
