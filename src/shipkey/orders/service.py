"""Purchase rules: recording sales and the purchase state machine.

    PENDING ──complete──▶ COMPLETED ──refund──▶ REFUNDED
       └──fail──▶ FAILED        ▲   └─dispute─▶ DISPUTED
                                └──dispute won──┘
Every transition is a conditional UPDATE on the current status, so two concurrent events cannot
both apply one.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from shipkey.catalog import service as catalog
from shipkey.db import insert_ignore, new_id, rowcount, utcnow
from shipkey.downloads import service as downloads
from shipkey.errors import Conflict, NotFound
from shipkey.fulfilment import service as fulfilment
from shipkey.licensing import service as licensing
from shipkey.orders.models import Customer, Purchase, PurchaseStatus
from shipkey.orders.schemas import PurchaseCreate


def get_purchase(session: Session, purchase_id: str) -> Purchase:
    purchase = session.get(Purchase, purchase_id) if len(purchase_id) <= 32 else None
    if purchase is None:
        raise NotFound(f"No purchase {purchase_id!r}.", "PURCHASE_NOT_FOUND")
    return purchase


def customer_for(
    session: Session, email: str, name: str | None = None, locale: str | None = None
) -> Customer:
    """The buyer with this e-mail address, created on first purchase (safe under races)."""
    email = email.strip().lower()
    insert_ignore(
        session,
        Customer,
        {
            "id": new_id("cus"),
            "email": email,
            "name": name,
            "locale": locale,
            "created_at": utcnow(),
        },
    )
    customer = session.scalars(select(Customer).where(Customer.email == email)).one()
    if name and not customer.name:
        customer.name = name
    return customer


def create_purchase(
    session: Session, data: PurchaseCreate, base_url: str, *, license_secret: str
) -> tuple[Purchase, fulfilment.Delivery | None]:
    """Record a sale. A COMPLETED one is fulfilled at once, exactly as a paid checkout is."""
    product = catalog.get_product(session, data.product)
    customer = customer_for(session, str(data.email), data.name, data.locale)
    purchase = Purchase(
        product=product,
        customer_id=customer.id,
        email=customer.email,
        name=data.name,
        locale=data.locale,
        status=PurchaseStatus.PENDING,
        amount=data.amount if data.amount is not None else product.price,
        currency=data.currency or product.currency,
        source="admin",
        max_downloads=data.max_downloads or product.max_downloads,
        download_count=0,
    )
    session.add(purchase)
    session.flush()
    delivery = None
    if data.status is PurchaseStatus.COMPLETED:
        delivery = complete(session, purchase, base_url, license_secret=license_secret)
    return purchase, delivery


def complete(
    session: Session,
    purchase: Purchase,
    base_url: str,
    now: datetime | None = None,
    *,
    license_secret: str,
) -> fulfilment.Delivery | None:
    """PENDING → COMPLETED, then fulfil. Completing twice fulfils once."""
    now = now or utcnow()
    session.execute(
        update(Purchase)
        .where(Purchase.id == purchase.id, Purchase.status == PurchaseStatus.PENDING)
        .values(status=PurchaseStatus.COMPLETED, completed_at=now)
        .execution_options(synchronize_session=False)
    )
    session.refresh(purchase)
    return fulfilment.fulfil(session, purchase, base_url, now, license_secret=license_secret)


def refund(session: Session, purchase: Purchase, now: datetime | None = None) -> Purchase:
    """COMPLETED or DISPUTED → REFUNDED: unused links end, licenses are revoked.

    Refunding a refunded purchase changes nothing and succeeds.
    """
    now = now or utcnow()
    changed = session.execute(
        update(Purchase)
        .where(
            Purchase.id == purchase.id,
            Purchase.status.in_([PurchaseStatus.COMPLETED, PurchaseStatus.DISPUTED]),
        )
        .values(status=PurchaseStatus.REFUNDED, refunded_at=now)
        .execution_options(synchronize_session=False)
    )
    session.refresh(purchase)
    if rowcount(changed) == 1:
        downloads.end_unused_links(session, purchase.id, now)
        licensing.revoke_for_purchase(session, purchase.id, now)
    elif purchase.status is not PurchaseStatus.REFUNDED:
        raise Conflict(
            f"A {purchase.status.value} purchase cannot be refunded.", "INVALID_PURCHASE_STATE"
        )
    return purchase
