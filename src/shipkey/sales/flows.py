"""What a purchase's transition sets off. Payments (Stripe's events, the success page), the
admin API and pages, and the CLI call these; each runs in its caller's transaction, so a
transition and its effects commit together or not at all.

- a sale recorded: :func:`create_purchase` (completed at once when it was paid);
- completed → delivered once (:func:`complete`);
- a delayed payment that failed → the buyer told (:func:`fail`);
- refunded, or a dispute lost → links, licenses and access end, the buyer told
  (:func:`refund`, :func:`record_refund`, :func:`dispute_lost`, :func:`take_back`);
- disputed → licenses suspended; won → reinstated, delivered if it never was;
- a subscription paid for another period, or ended → licenses and access follow.
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from sqlalchemy.orm import Session

from shipkey.catalog import service as catalog
from shipkey.clock import utcnow
from shipkey.config import Settings
from shipkey.downloads import jobs as stamping
from shipkey.downloads import links as downloads
from shipkey.errors import Conflict
from shipkey.fulfilment import access
from shipkey.licensing import issuing as licensing
from shipkey.mail import service as mail
from shipkey.mail.models import MailMessage
from shipkey.orders import service as orders
from shipkey.orders.models import Purchase, PurchaseStatus
from shipkey.orders.schemas import PurchaseCreate
from shipkey.sales.delivery import Delivery, deliver, fulfil

Reason = Literal["refund", "dispute"]


def create_purchase(
    session: Session, settings: Settings, data: PurchaseCreate
) -> tuple[Purchase, Delivery | None]:
    """Record a sale. A COMPLETED one is delivered at once, exactly as a paid checkout is."""
    product = catalog.get_product(session, data.product)
    purchase = orders.new_purchase(
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


def complete(
    session: Session, settings: Settings, purchase: Purchase, now: datetime | None = None
) -> Delivery | None:
    """PENDING → COMPLETED, then delivered. Completing twice delivers once; a purchase that was
    refunded or disputed in the meantime is not delivered. A pending purchase whose buyer is
    known is completed and claimed for delivery by one UPDATE."""
    now = now or utcnow()
    if orders.complete_and_claim(session, purchase, now):
        return deliver(session, settings, purchase, now)
    # Not the usual case: ``purchase`` now shows the state that holds (completed already, or
    # its buyer is not known yet), and each step is tried on its own.
    if purchase.status is PurchaseStatus.PENDING:
        orders.mark_completed(session, purchase, now)
    if purchase.status is not PurchaseStatus.COMPLETED or purchase.fulfilled_at is not None:
        return None
    return fulfil(session, settings, purchase, now)


def fail(
    session: Session, settings: Settings, purchase: Purchase, now: datetime | None = None
) -> bool:
    """PENDING → FAILED (a delayed payment did not go through); the buyer is told."""
    if not orders.mark_failed(session, purchase, now or utcnow()):
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
    if orders.mark_refunded(session, purchase, now, before_delivery=before_delivery):
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
    orders.record_refunded_amount(session, purchase, amount_refunded)
    if full and purchase.status is not PurchaseStatus.FAILED:
        refund(session, settings, purchase, now, before_delivery=True)
    return purchase


def dispute(session: Session, purchase: Purchase, now: datetime | None = None) -> bool:
    """COMPLETED (or not yet completed) → DISPUTED: licenses suspended; links and access stop
    while the purchase is DISPUTED."""
    now = now or utcnow()
    if not orders.mark_disputed(session, purchase, now):
        return False
    licensing.suspend_for_purchase(session, purchase.id, now)
    return True


def dispute_won(
    session: Session, settings: Settings, purchase: Purchase, now: datetime | None = None
) -> bool:
    """DISPUTED → COMPLETED: licenses reinstated; delivered now if it never was."""
    now = now or utcnow()
    if not orders.mark_dispute_won(session, purchase, now):
        return False
    licensing.reinstate_for_purchase(session, purchase.id)
    fulfil(session, settings, purchase, now)
    return True


def dispute_lost(
    session: Session, settings: Settings, purchase: Purchase, now: datetime | None = None
) -> Purchase:
    """The money went back to the buyer's bank: revoked, as a refund."""
    return refund(session, settings, purchase, now, reason="dispute", before_delivery=True)


def extend_subscription(session: Session, purchase: Purchase, until: datetime) -> bool:
    """A paid subscription period: licenses and access run to ``until`` (see
    :func:`~shipkey.orders.service.extend_paid_period`)."""
    if not orders.extend_paid_period(session, purchase, until):
        return False
    licensing.extend_for_purchase(session, purchase.id, until)
    access.extend_for_purchase(session, purchase.id, until)
    return True


def end_subscription(session: Session, purchase: Purchase, when: datetime) -> bool:
    """The subscription ended at ``when``: its licenses and access end then."""
    if not orders.mark_ended(session, purchase, when):
        return False
    licensing.end_for_purchase(session, purchase.id, when)
    access.end_for_purchase(session, purchase.id, when)
    return True
