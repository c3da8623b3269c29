"""A product's key pool filled: keys added, and the sales that waited for one get theirs by
e-mail, oldest first (:mod:`shipkey.licensing.pools` keeps the pool)."""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import update
from sqlalchemy.orm import Session

from shipkey.catalog import service as catalog
from shipkey.catalog.models import Product
from shipkey.clock import utcnow
from shipkey.config import Settings
from shipkey.errors import Conflict
from shipkey.licensing import pools
from shipkey.licensing.models import PoolWait
from shipkey.mail import service as mail
from shipkey.orders import service as orders
from shipkey.orders.models import PurchaseStatus


def licensed_product(session: Session, ref: str) -> Product:
    """The product (id or slug); 409 ``NO_LICENSE`` for one sold without a license."""
    product = catalog.get_product(session, ref)
    if product.license_type is None:
        raise Conflict(f"The product {product.slug!r} is not sold with a license.", "NO_LICENSE")
    return product


def add_keys(
    session: Session, settings: Settings, product_ref: str, lines: Iterable[str]
) -> pools.Added:
    """Add keys to the product's pool, then hand them to the waiting sales."""
    product = licensed_product(session, product_ref)
    added = pools.add_keys(session, product, lines, settings.license_key_secrets)
    if added.added:
        fill_waits(session, settings, product)
    return pools.Added(added.added, added.duplicates, pools.available(session, product.id))


def fill_waits(session: Session, settings: Settings, product: Product) -> int:
    """Each waiting sale (oldest first) gets the next key and an e-mail with it, until the
    pool is empty; a sale refunded in the meantime waits no more. Returns how many got one."""
    filled = 0
    for wait in pools.waiting(session, product.id):
        purchase = orders.get_purchase(session, wait.purchase_id)
        if purchase.status is not PurchaseStatus.COMPLETED:
            session.execute(
                update(PoolWait)
                .where(PoolWait.id == wait.id)
                .values(filled_at=utcnow())
                .execution_options(synchronize_session=False)
            )
            continue
        lic = pools.fill(session, wait, purchase, settings.license_key_secret)
        if lic is None:
            break
        filled += 1
        if purchase.email:
            mail.queue_delivery(session, settings, purchase, [], [(lic.key, lic.expires_at)], [])
    return filled
