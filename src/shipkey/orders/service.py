"""Purchase rules: recording sales and the purchase state machine.

    PENDING ──complete──▶ COMPLETED ──refund / dispute lost──▶ REFUNDED
       │ └──fail──▶ FAILED    │  ▲
       │                dispute  dispute won
       │                      ▼  │
       ├──────dispute──────▶ DISPUTED
       └──refund (paid back before it was delivered)──▶ REFUNDED

Every transition is a conditional UPDATE on the current status, so two concurrent events cannot
both apply one, and an event that loses a race sees the winner's state. Each answers whether
this call moved the purchase; what a move means (goods delivered or taken back, the buyer told)
is decided by :mod:`shipkey.sales.flows`.

Deliver once. A purchase is *claimed* for delivery when an UPDATE stamps ``fulfilled_at`` on a
COMPLETED purchase whose buyer is known (:data:`CLAIMABLE`): by :func:`claim`, or by
:func:`complete_and_claim` in the UPDATE that completes it. Only the caller whose UPDATE matched
delivers (:func:`shipkey.sales.delivery.deliver`).
"""

from __future__ import annotations

import functools
from collections.abc import Iterable
from datetime import datetime
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import set_committed_value

from shipkey.catalog.models import Product
from shipkey.clock import utcnow
from shipkey.config import Settings
from shipkey.db.writes import conditional_update, insert_new, insert_row, rowcount, update_if
from shipkey.errors import NotFound
from shipkey.i18n import spoken_locale
from shipkey.ids import new_id
from shipkey.orders.models import Customer, Purchase, PurchaseStatus


def get_purchase(session: Session, purchase_id: str) -> Purchase:
    purchase = find_purchase(session, purchase_id)
    if purchase is None:
        raise NotFound(f"No purchase {purchase_id!r}.", "PURCHASE_NOT_FOUND")
    return purchase


def find_purchase(session: Session, purchase_id: str) -> Purchase | None:
    if not purchase_id or len(purchase_id) > 32:
        return None
    return session.get(Purchase, purchase_id, populate_existing=True)


def purchase_url(settings: Settings, purchase_id: str) -> str:
    """The buyer's page of a purchase in the portal."""
    return f"{settings.base_url}/purchases/{purchase_id}"


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
    columns: dict[str, Any] | None = None,
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


CLAIMABLE = (Purchase.fulfilled_at.is_(None), Purchase.customer_id.is_not(None))
"""What a purchase must be for an UPDATE to claim it: not delivered yet, its buyer known."""

_CLAIM = conditional_update(
    Purchase,
    Purchase.status == PurchaseStatus.COMPLETED,
    *CLAIMABLE,
    columns=("fulfilled_at", "delivered_at"),
)
_COMPLETE_AND_CLAIM = conditional_update(
    Purchase,
    Purchase.status == PurchaseStatus.PENDING,
    *CLAIMABLE,
    columns=("status", "completed_at", "fulfilled_at", "delivered_at"),
)


def claim(session: Session, purchase: Purchase, now: datetime) -> bool:
    """Claim a COMPLETED purchase for delivery; True for the one caller that delivers."""
    return update_if(session, purchase, _CLAIM, {"fulfilled_at": now, "delivered_at": now})


def complete_and_claim(session: Session, purchase: Purchase, now: datetime) -> bool:
    """PENDING → COMPLETED and claimed for delivery in one UPDATE (the usual sale: its buyer is
    known); False leaves ``purchase`` showing the state that holds."""
    values = {
        "status": PurchaseStatus.COMPLETED,
        "completed_at": now,
        "fulfilled_at": now,
        "delivered_at": now,
    }
    return update_if(session, purchase, _COMPLETE_AND_CLAIM, values)


def mark_completed(session: Session, purchase: Purchase, now: datetime) -> bool:
    """PENDING → COMPLETED without claiming it (its buyer is not known yet)."""
    return _move(
        session, purchase, [PurchaseStatus.PENDING], PurchaseStatus.COMPLETED, completed_at=now
    )


def mark_failed(session: Session, purchase: Purchase, now: datetime) -> bool:
    """PENDING → FAILED (a delayed payment did not go through)."""
    return _move(session, purchase, [PurchaseStatus.PENDING], PurchaseStatus.FAILED, failed_at=now)


def mark_refunded(
    session: Session, purchase: Purchase, now: datetime, *, before_delivery: bool
) -> bool:
    """COMPLETED or DISPUTED (with ``before_delivery`` PENDING too) → REFUNDED."""
    sources = [PurchaseStatus.COMPLETED, PurchaseStatus.DISPUTED]
    if before_delivery:
        sources.append(PurchaseStatus.PENDING)
    return _move(session, purchase, sources, PurchaseStatus.REFUNDED, refunded_at=now)


def mark_disputed(session: Session, purchase: Purchase, now: datetime) -> bool:
    """COMPLETED (or not yet completed) → DISPUTED."""
    sources = [PurchaseStatus.COMPLETED, PurchaseStatus.PENDING]
    return _move(session, purchase, sources, PurchaseStatus.DISPUTED, disputed_at=now)


def mark_dispute_won(session: Session, purchase: Purchase, now: datetime) -> bool:
    """DISPUTED → COMPLETED (completed now if it never was)."""
    values: dict[str, object] = {}
    if purchase.completed_at is None:
        values["completed_at"] = now
    if not _move(session, purchase, [PurchaseStatus.DISPUTED], PurchaseStatus.COMPLETED, **values):
        return False
    if purchase.completed_at is None:
        purchase.completed_at = now
    return True


def record_refunded_amount(session: Session, purchase: Purchase, amount_refunded: int) -> None:
    """The amount paid back so far (it only grows: a late event lowers nothing)."""
    session.execute(
        update(Purchase)
        .where(Purchase.id == purchase.id, Purchase.amount_refunded < amount_refunded)
        .values(amount_refunded=amount_refunded)
        .execution_options(synchronize_session=False)
    )
    session.refresh(purchase)


def extend_paid_period(session: Session, purchase: Purchase, until: datetime) -> bool:
    """A paid subscription period, kept on the purchase so that one delivered later starts with
    it. It only grows (an older invoice arriving late changes nothing), and nothing changes
    once the subscription has ended."""
    changed = session.execute(
        update(Purchase)
        .where(Purchase.id == purchase.id, Purchase.ended_at.is_(None))
        .where((Purchase.paid_until.is_(None)) | (Purchase.paid_until < until))
        .values(paid_until=until)
        .execution_options(synchronize_session=False)
    )
    session.refresh(purchase)
    return rowcount(changed) == 1


def mark_ended(session: Session, purchase: Purchase, when: datetime) -> bool:
    """The subscription ended at ``when`` (once)."""
    changed = session.execute(
        update(Purchase)
        .where(Purchase.id == purchase.id, Purchase.ended_at.is_(None))
        .values(ended_at=when)
        .execution_options(synchronize_session=False)
    )
    session.refresh(purchase)
    return rowcount(changed) == 1
