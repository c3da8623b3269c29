"""What each Stripe event type does: find its purchase (:mod:`shipkey.payments.lookups`) and
set off the sale's flow (:mod:`shipkey.sales.flows`). A type not in :data:`HANDLERS` is
ignored. An effect raises :class:`~shipkey.payments.outcomes.NotYet` when its purchase is not
there yet and :class:`~shipkey.payments.outcomes.Unprocessable` when it never can be applied;
the event log decides what that means for the event (:mod:`shipkey.payments.events`).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from sqlalchemy import exists, select
from sqlalchemy.orm import Session

from shipkey.config import Settings
from shipkey.orders.models import Purchase, PurchaseStatus
from shipkey.payments import fraud, lookups
from shipkey.payments.models import PROVIDER, EventStatus, WebhookEvent
from shipkey.payments.outcomes import NotYet, Outcome, Unprocessable
from shipkey.payments.stripe_objects import (
    PAID,
    amount,
    currency,
    invoice_period_end,
    invoice_subscription,
    text,
    timestamp,
)
from shipkey.payments.webhooks import StripeEvent
from shipkey.sales import flows

WON = ("won", "warning_closed")
"""A closed dispute's ``status`` when the seller keeps the money."""


def apply(session: Session, settings: Settings, event: StripeEvent, now: datetime) -> Outcome:
    """What ``event`` does; raises :class:`NotYet` when its purchase is not there yet."""
    handler = HANDLERS.get(event.type)
    if handler is None:
        return Outcome(EventStatus.IGNORED)
    return handler(session, settings, event, now)


def _session_paid(
    session: Session, settings: Settings, event: StripeEvent, now: datetime
) -> Outcome:
    obj = event.object
    paid = event.type != "checkout.session.completed" or obj.get("payment_status") in PAID
    return apply_checkout_session(session, settings, obj, paid=paid, now=now)


def apply_checkout_session(
    session: Session, settings: Settings, obj: dict[str, Any], *, paid: bool, now: datetime
) -> Outcome:
    """A Checkout Session that completed: paid → COMPLETED and delivered; unpaid (SEPA debit
    and other delayed methods) → recorded, still PENDING. Also used by the success page."""
    purchase = lookups.checkout_purchase(session, obj)
    if purchase is None:
        return Outcome(EventStatus.IGNORED)
    if paid:
        if not purchase.email:
            raise Unprocessable("The Checkout Session has no customer e-mail address.")
        _record_amount(purchase, obj)
        flows.complete(session, settings, purchase, now)
    return Outcome(EventStatus.PROCESSED, purchase.id)


def _record_amount(purchase: Purchase, obj: dict[str, Any]) -> None:
    """The amount and currency the session charged, recorded on a purchase still PENDING."""
    paid, paid_in = amount(obj.get("amount_total")), currency(obj.get("currency"))
    if paid is not None and purchase.status is PurchaseStatus.PENDING:
        if purchase.amount != paid:
            purchase.amount = paid
        if paid_in and purchase.currency != paid_in:
            purchase.currency = paid_in


def _session_failed(
    session: Session, settings: Settings, event: StripeEvent, now: datetime
) -> Outcome:
    purchase = lookups.checkout_purchase(session, event.object)
    if purchase is None:
        return Outcome(EventStatus.IGNORED)
    flows.fail(session, settings, purchase, now)
    return Outcome(EventStatus.PROCESSED, purchase.id)


def _payment_intent_succeeded(
    session: Session, settings: Settings, event: StripeEvent, now: datetime
) -> Outcome:
    obj = event.object
    intent_id = text(obj.get("id"))
    purchase = lookups.by_intent(session, intent_id)
    if purchase is None:
        purchase = lookups.by_metadata(session, obj)
    if purchase is None:
        return Outcome(EventStatus.IGNORED)  # a payment that is not shipkey's (or not yet)
    if purchase.status is PurchaseStatus.PENDING:
        if not purchase.email:
            raise NotYet(f"Purchase {purchase.id} does not know its buyer yet.")
        if purchase.stripe_payment_intent_id is None:
            purchase.stripe_payment_intent_id = intent_id
        flows.complete(session, settings, purchase, now)
    return Outcome(EventStatus.PROCESSED, purchase.id)


def _charge_refunded(
    session: Session, settings: Settings, event: StripeEvent, now: datetime
) -> Outcome:
    obj = event.object
    purchase = lookups.for_payment(session, obj)
    charged = amount(obj.get("amount")) or 0
    refunded = amount(obj.get("amount_refunded")) or 0
    full = obj.get("refunded") is True or (charged > 0 and refunded >= charged)
    flows.record_refund(session, settings, purchase, refunded, full=full, now=now)
    return Outcome(EventStatus.PROCESSED, purchase.id)


def _dispute_created(
    session: Session, settings: Settings, event: StripeEvent, now: datetime
) -> Outcome:
    obj = event.object
    purchase = lookups.for_payment(session, obj)
    if _closed_already(session, text(obj.get("id"))):
        return Outcome(EventStatus.IGNORED, purchase.id)  # its closing came first
    flows.dispute(session, purchase, now)
    fraud.dispute_opened(session, purchase, text(obj.get("id")))
    return Outcome(EventStatus.PROCESSED, purchase.id)


def _closed_already(session: Session, dispute_id: str | None) -> bool:
    """Whether the dispute's closing event has taken effect (events can come out of order)."""
    if dispute_id is None:
        return False
    return bool(
        session.scalar(
            select(
                exists().where(
                    WebhookEvent.provider == PROVIDER,
                    WebhookEvent.type == "charge.dispute.closed",
                    WebhookEvent.object_id == dispute_id,
                    WebhookEvent.status == EventStatus.PROCESSED,
                )
            )
        )
    )


def _dispute_closed(
    session: Session, settings: Settings, event: StripeEvent, now: datetime
) -> Outcome:
    obj = event.object
    purchase = lookups.for_payment(session, obj)
    status = obj.get("status")
    if status in WON:
        flows.dispute_won(session, settings, purchase, now)
    elif status == "lost":
        flows.dispute_lost(session, settings, purchase, now)
    else:
        return Outcome(EventStatus.IGNORED, purchase.id)
    return Outcome(EventStatus.PROCESSED, purchase.id)


def _invoice_paid(
    session: Session, settings: Settings, event: StripeEvent, now: datetime
) -> Outcome:
    obj = event.object
    subscription_id, tags = invoice_subscription(obj)
    if subscription_id is None:
        return Outcome(EventStatus.IGNORED)  # a one-off invoice
    purchase = lookups.by_subscription(session, subscription_id) or lookups.by_reference(
        session, text(tags.get("purchaseId"))
    )
    if purchase is None:
        raise NotYet(f"No purchase for subscription {subscription_id} yet.")
    if purchase.stripe_subscription_id is None:
        purchase.stripe_subscription_id = subscription_id
    until = invoice_period_end(obj)
    if until is not None:
        flows.extend_subscription(session, purchase, until)
    return Outcome(EventStatus.PROCESSED, purchase.id)


def _subscription_deleted(
    session: Session, settings: Settings, event: StripeEvent, now: datetime
) -> Outcome:
    obj = event.object
    subscription_id = text(obj.get("id"))
    purchase = lookups.by_subscription(session, subscription_id) or lookups.by_metadata(
        session, obj
    )
    if purchase is None:
        raise NotYet(f"No purchase for subscription {subscription_id} yet.")
    ended = timestamp(obj.get("ended_at")) or timestamp(obj.get("canceled_at")) or now
    flows.end_subscription(session, purchase, ended)
    return Outcome(EventStatus.PROCESSED, purchase.id)


Handler = Callable[[Session, Settings, StripeEvent, datetime], Outcome]

HANDLERS: dict[str, Handler] = {
    "checkout.session.completed": _session_paid,
    "checkout.session.async_payment_succeeded": _session_paid,
    "checkout.session.async_payment_failed": _session_failed,
    "payment_intent.succeeded": _payment_intent_succeeded,
    "charge.refunded": _charge_refunded,
    "charge.dispute.created": _dispute_created,
    "charge.dispute.closed": _dispute_closed,
    "radar.early_fraud_warning.created": fraud.early_fraud_warning,
    "invoice.paid": _invoice_paid,
    "customer.subscription.deleted": _subscription_deleted,
}
"""The event types shipkey acts on, and how."""
