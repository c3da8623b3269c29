"""Purchase rules: recording sales and the purchase state machine.

    PENDING ──complete──▶ COMPLETED ──refund / dispute lost──▶ REFUNDED
       │ └──fail──▶ FAILED    │  ▲
       │                dispute  dispute won
       │                      ▼  │
       ├──────dispute──────▶ DISPUTED
       └──refund (paid back before it was delivered)──▶ REFUNDED

Every transition is a conditional UPDATE on the current status, so two concurrent events cannot
both apply one, and an event that loses a race sees the winner's state. Taking goods back (links,
licenses, access, and the buyer's notice) happens in one place, :func:`take_back`.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable
from datetime import datetime
from typing import Any, Literal

from sqlalchemy import select, update
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import set_committed_value

from shipkey.catalog import service as catalog
from shipkey.catalog.models import Product
from shipkey.config import Settings
from shipkey.db import (
    conditional_update,
    insert_new,
    insert_row,
    new_id,
    rowcount,
    update_if,
    utcnow,
)
from shipkey.downloads import jobs as stamping
from shipkey.downloads import service as downloads
from shipkey.errors import Conflict, NotFound
from shipkey.fulfilment import access
from shipkey.fulfilment import service as fulfilment
from shipkey.licensing import service as licensing
from shipkey.mail import service as mail
from shipkey.mail.models import MailMessage
from shipkey.mail.render import LOCALES
from shipkey.orders.models import Customer, Purchase, PurchaseStatus
from shipkey.orders.schemas import PurchaseCreate

Reason = Literal["refund", "dispute"]


def get_purchase(session: Session, purchase_id: str) -> Purchase:
    purchase = find_purchase(session, purchase_id)
    if purchase is None:
        raise NotFound(f"No purchase {purchase_id!r}.", "PURCHASE_NOT_FOUND")
    return purchase


def find_purchase(session: Session, purchase_id: str) -> Purchase | None:
    if not purchase_id or len(purchase_id) > 32:
        return None
    return session.get(Purchase, purchase_id, populate_existing=True)


def customer_for(
    session: Session, email: str, name: str | None = None, locale: str | None = None
) -> Customer:
    """The buyer with this e-mail address, created on first purchase (safe under races)."""
    email = email.strip().lower()
    created = insert_new(
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
    if created is not None:
        return created
    customer = session.scalars(select(Customer).where(Customer.email == email)).one()
    if name and not customer.name:
        customer.name = name
    return customer


def new_purchase(
    session: Session,
    product: Product,
    *,
    email: str | None,
    name: str | None = None,
    locale: str | None = None,
    amount: int | None = None,
    currency: str | None = None,
    source: str = "admin",
    max_downloads: int | None = None,
    purchase_id: str | None = None,
    columns: dict[str, str | None] | None = None,
) -> Purchase:
    """A PENDING purchase, written at once (the buyer may be unknown until the payment tells);
    ``columns`` are more of its values (the payment provider's ids)."""
    values = _purchase_values(
        session, product, email, name, locale, amount, currency, source, max_downloads
    )
    values |= {"id": purchase_id or new_id("pur"), **(columns or {})}
    return with_product(insert_row(session, Purchase, values), product)


def new_purchase_once(
    session: Session,
    product: Product,
    *,
    email: str,
    name: str | None,
    locale: str | None,
    amount: int | None,
    currency: str | None,
    source: str,
    columns: dict[str, str | None],
) -> Purchase | None:
    """:func:`new_purchase` for a sale that names itself (its Checkout Session in
    ``columns``): None when a purchase for it exists already, made by a concurrent delivery of
    the same sale. No savepoint is needed: the INSERT does nothing on the unique value."""
    values = _purchase_values(session, product, email, name, locale, amount, currency, source, None)
    values |= {"id": new_id("pur"), **columns}
    purchase = insert_new(session, Purchase, values)
    return with_product(purchase, product) if purchase is not None else None


def _purchase_values(
    session: Session,
    product: Product,
    email: str | None,
    name: str | None,
    locale: str | None,
    amount: int | None,
    currency: str | None,
    source: str,
    max_downloads: int | None,
) -> dict[str, Any]:
    """Every column a new purchase sets (none is left for the database to fill in and to be
    read back); the buyer is found or made first."""
    customer = customer_for(session, email, name, locale) if email else None
    return {
        "product_id": product.id,
        "customer_id": customer.id if customer else None,
        "email": customer.email if customer else None,
        "name": name,
        "locale": locale,
        "status": PurchaseStatus.PENDING,
        "amount": amount if amount is not None else product.price,
        "currency": (currency or product.currency).upper(),
        "source": source,
        "max_downloads": max_downloads or product.max_downloads,
        "download_count": 0,
        "amount_refunded": 0,
        "created_at": utcnow(),
    }


def with_product(purchase: Purchase, product: Product) -> Purchase:
    """``purchase`` with ``product`` (already loaded, its own) as its product, not read again."""
    set_committed_value(purchase, "product", product)
    return purchase


def create_purchase(
    session: Session, settings: Settings, data: PurchaseCreate
) -> tuple[Purchase, fulfilment.Delivery | None]:
    """Record a sale. A COMPLETED one is fulfilled at once, exactly as a paid checkout is."""
    product = catalog.get_product(session, data.product)
    purchase = new_purchase(
        session,
        product,
        email=str(data.email),
        name=data.name,
        locale=data.locale,
        amount=data.amount,
        currency=data.currency,
        max_downloads=data.max_downloads,
    )
    delivery = None
    if data.status is PurchaseStatus.COMPLETED:
        delivery = complete(session, settings, purchase)
    return purchase, delivery


def set_buyer(
    session: Session,
    purchase: Purchase,
    email: str | None,
    name: str | None = None,
    locale: str | None = None,
) -> None:
    """What the payment tells about the buyer: its e-mail address wins; the locale chosen at
    checkout is kept, else the payment's is taken when it is one shipkey speaks."""
    spoken = spoken_locale(locale)
    if email and not _is_buyer(purchase, email):
        customer = customer_for(session, email, name, spoken)
        purchase.customer_id = customer.id
        purchase.email = customer.email
    elif email and name and not purchase.name:
        known = session.get(Customer, purchase.customer_id)
        if known is not None and not known.name:
            known.name = name
    if name and not purchase.name:
        purchase.name = name[:200]
    if spoken and not purchase.locale:
        purchase.locale = spoken
    session.flush()


def spoken_locale(locale: str | None) -> str | None:
    """The language of a locale (``de-CH`` → ``de``) when shipkey speaks it, else None."""
    language = locale.replace("-", "_").split("_")[0].lower() if locale else None
    return language if language in LOCALES else None


def _is_buyer(purchase: Purchase, email: str) -> bool:
    """Whether the purchase already belongs to the customer with this address (then the
    customer was found or made, and given a name when the purchase got its own)."""
    return purchase.customer_id is not None and purchase.email == email.strip().lower()


def _move(
    session: Session,
    purchase: Purchase,
    sources: Iterable[PurchaseStatus],
    target: PurchaseStatus,
    **values: object,
) -> bool:
    """``sources`` → ``target`` as one conditional UPDATE; True when this call moved it.
    Either way ``purchase`` shows the state that holds now (see :func:`update_if`)."""
    stmt = _move_statement(tuple(sources), tuple(values))
    return update_if(session, purchase, stmt, {"status": target, **values})


@functools.cache
def _move_statement(sources: tuple[PurchaseStatus, ...], columns: tuple[str, ...]) -> Any:
    return conditional_update(Purchase, Purchase.status.in_(sources), columns=("status", *columns))


_COMPLETE_AND_CLAIM = conditional_update(
    Purchase,
    Purchase.status == PurchaseStatus.PENDING,
    *fulfilment.CLAIMABLE,
    columns=("status", "completed_at", "fulfilled_at", "delivered_at"),
)
"""PENDING → COMPLETED and claimed for delivery (:data:`fulfilment.CLAIMABLE`) in one UPDATE."""


def complete(
    session: Session, settings: Settings, purchase: Purchase, now: datetime | None = None
) -> fulfilment.Delivery | None:
    """PENDING → COMPLETED, then fulfil. Completing twice fulfils once; a purchase that was
    refunded or disputed in the meantime is not delivered. A pending purchase whose buyer is
    known is completed and claimed for delivery by one UPDATE."""
    now = now or utcnow()
    completed = PurchaseStatus.COMPLETED
    values = {"status": completed, "completed_at": now, "fulfilled_at": now, "delivered_at": now}
    if update_if(session, purchase, _COMPLETE_AND_CLAIM, values):
        return fulfilment.deliver(session, settings, purchase, now)
    # Not the usual case: ``purchase`` now shows the state that holds (completed already, or
    # its buyer is not known yet), and each step is tried on its own.
    if purchase.status is PurchaseStatus.PENDING:
        _move(session, purchase, [PurchaseStatus.PENDING], completed, completed_at=now)
    if purchase.status is not completed or purchase.fulfilled_at is not None:
        return None
    return fulfilment.fulfil(session, settings, purchase, now)


def fail(
    session: Session, settings: Settings, purchase: Purchase, now: datetime | None = None
) -> bool:
    """PENDING → FAILED (a delayed payment did not go through); the buyer is told."""
    now = now or utcnow()
    if not _move(session, purchase, [PurchaseStatus.PENDING], PurchaseStatus.FAILED, failed_at=now):
        return False
    if purchase.email:
        mail.queue_payment_failed(session, settings, purchase)
    return True


def take_back(
    session: Session,
    settings: Settings | None,
    purchase: Purchase,
    now: datetime,
    reason: Reason = "refund",
) -> MailMessage | None:
    """End what a purchase delivered: unused links, licenses, access; tell the buyer."""
    downloads.end_unused_links(session, purchase.id, now)
    licensing.revoke_for_purchase(session, purchase.id, now)
    access.revoke_for_purchase(session, purchase.id, now)
    if settings is None or purchase.fulfilled_at is None or not purchase.email:
        return None
    return mail.queue_revoked(session, settings, purchase, reason)


def refund(
    session: Session,
    settings: Settings | None,
    purchase: Purchase,
    now: datetime | None = None,
    *,
    reason: Reason = "refund",
    before_delivery: bool = False,
) -> Purchase:
    """COMPLETED or DISPUTED → REFUNDED: links, licenses and access end; the buyer is told.

    With ``before_delivery`` (Stripe paid the money back) a PENDING purchase is refunded too,
    so it is never delivered. Refunding a refunded purchase changes nothing and succeeds.
    """
    now = now or utcnow()
    sources = [PurchaseStatus.COMPLETED, PurchaseStatus.DISPUTED]
    if before_delivery:
        sources.append(PurchaseStatus.PENDING)
    if _move(session, purchase, sources, PurchaseStatus.REFUNDED, refunded_at=now):
        take_back(session, settings, purchase, now, reason)
        stamping.enqueue_discard(session, purchase)  # a personal copy is never needed again
    elif purchase.status is not PurchaseStatus.REFUNDED:
        raise Conflict(
            f"A {purchase.status.value} purchase cannot be refunded.", "INVALID_PURCHASE_STATE"
        )
    return purchase


def record_refund(
    session: Session,
    settings: Settings,
    purchase: Purchase,
    amount_refunded: int,
    *,
    full: bool,
    now: datetime | None = None,
) -> Purchase:
    """A refund from the payment provider: the amount is recorded (it only grows); a full
    refund revokes as the admin refund does, a partial one changes nothing else."""
    session.execute(
        update(Purchase)
        .where(Purchase.id == purchase.id, Purchase.amount_refunded < amount_refunded)
        .values(amount_refunded=amount_refunded)
        .execution_options(synchronize_session=False)
    )
    session.refresh(purchase)
    if full and purchase.status is not PurchaseStatus.FAILED:
        refund(session, settings, purchase, now, before_delivery=True)
    return purchase


def dispute(session: Session, purchase: Purchase, now: datetime | None = None) -> bool:
    """COMPLETED (or not yet completed) → DISPUTED: licenses suspended; links and access stop
    while the purchase is DISPUTED."""
    now = now or utcnow()
    sources = [PurchaseStatus.COMPLETED, PurchaseStatus.PENDING]
    if not _move(session, purchase, sources, PurchaseStatus.DISPUTED, disputed_at=now):
        return False
    licensing.suspend_for_purchase(session, purchase.id, now)
    return True


def dispute_won(
    session: Session, settings: Settings, purchase: Purchase, now: datetime | None = None
) -> bool:
    """DISPUTED → COMPLETED: licenses reinstated; delivered now if it never was."""
    now = now or utcnow()
    values: dict[str, object] = {}
    if purchase.completed_at is None:
        values["completed_at"] = now
    if not _move(session, purchase, [PurchaseStatus.DISPUTED], PurchaseStatus.COMPLETED, **values):
        return False
    if purchase.completed_at is None:
        purchase.completed_at = now
    licensing.reinstate_for_purchase(session, purchase.id)
    fulfilment.fulfil(session, settings, purchase, now)
    return True


def dispute_lost(
    session: Session, settings: Settings, purchase: Purchase, now: datetime | None = None
) -> Purchase:
    """The money went back to the buyer's bank: revoked, as a refund."""
    return refund(session, settings, purchase, now, reason="dispute", before_delivery=True)


def extend_subscription(session: Session, purchase: Purchase, until: datetime) -> bool:
    """A paid subscription period: licenses and access run to ``until``.

    The paid period only grows (an older invoice arriving late changes nothing) and is kept on
    the purchase, so one delivered later starts with it. Nothing changes once it has ended.
    """
    changed = session.execute(
        update(Purchase)
        .where(Purchase.id == purchase.id, Purchase.ended_at.is_(None))
        .where((Purchase.paid_until.is_(None)) | (Purchase.paid_until < until))
        .values(paid_until=until)
        .execution_options(synchronize_session=False)
    )
    session.refresh(purchase)
    if rowcount(changed) != 1:
        return False
    licensing.extend_for_purchase(session, purchase.id, until)
    access.extend_for_purchase(session, purchase.id, until)
    return True


def end_subscription(session: Session, purchase: Purchase, when: datetime) -> bool:
    """The subscription ended at ``when``: its licenses and access end then."""
    changed = session.execute(
        update(Purchase)
        .where(Purchase.id == purchase.id, Purchase.ended_at.is_(None))
        .values(ended_at=when)
        .execution_options(synchronize_session=False)
    )
    session.refresh(purchase)
    if rowcount(changed) != 1:
        return False
    licensing.end_for_purchase(session, purchase.id, when)
    access.end_for_purchase(session, purchase.id, when)
    return True
