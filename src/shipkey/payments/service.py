"""Stripe events → purchases, each event exactly once.

An event is stored with ``INSERT … ON CONFLICT DO NOTHING`` on ``UNIQUE(provider, event_id)``
and only the request whose insert succeeded acts on it, in the same transaction: a duplicate,
even one delivered concurrently, has no effect. The effect runs in a savepoint; when it refers to
a purchase that is not there yet (:class:`NotYet`), or fails unexpectedly, the savepoint is
rolled back, the event is kept as WAITING and a ``stripe.event`` job applies it later, retrying
with backoff for up to three days (as long as Stripe itself retries). Nothing is lost: the event
and its job commit together. The webhook first tries without the savepoint
(:func:`receive_at_once`, two round trips less for the usual event) and, when the event does not
take effect, rolls that try back and receives it as above.

Finding the purchase: ``metadata.purchaseId`` or ``client_reference_id`` (set by
``POST /api/checkout``), the Checkout Session id; else ``metadata.product`` (a slug, as on a
Stripe Payment Link) with ``customer_details.email`` creates it. Charge, refund and dispute
events find it by ``payment_intent``; subscription events by the subscription id.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from email_validator import EmailNotValidError, validate_email
from sqlalchemy import bindparam, exists, select
from sqlalchemy.orm import Session, lazyload

from shipkey.catalog.models import Product
from shipkey.clock import utcnow
from shipkey.config import Settings
from shipkey.db.writes import conditional_update, insert_new, update_if
from shipkey.errors import Conflict, NotFound
from shipkey.i18n import spoken_locale
from shipkey.ids import new_id
from shipkey.jobs import service as jobs
from shipkey.jobs.service import describe
from shipkey.mail import service as mail
from shipkey.orders import service as orders
from shipkey.orders.models import Purchase, PurchaseStatus
from shipkey.payments.models import EventStatus, WebhookEvent
from shipkey.payments.webhooks import StripeEvent
from shipkey.sales import flows

log = logging.getLogger(__name__)

PROVIDER = "stripe"
EVENT_JOB = "stripe.event"
RETRY_WINDOW = timedelta(days=3)
"""How long an event that refers to a missing purchase is retried (Stripe retries as long)."""
PAID = ("paid", "no_payment_required")
MAX_AMOUNT = 2**31 - 1
WON = ("won", "warning_closed")


_PRODUCT_BY_SLUG = select(Product).where(Product.slug == bindparam("slug"))
_LINK_SALE = (
    select(Product, Purchase)
    .outerjoin(Purchase, Purchase.stripe_checkout_session_id == bindparam("session_id"))
    .where(Product.slug == bindparam("slug"))
    # The purchase's product is the one in the row (not joined a second time; set on it).
    .options(lazyload(Purchase.product))
    .execution_options(populate_existing=True)
)
"""A product, and the purchase of a Checkout Session if there is one (the id is unique)."""


class NotYet(Exception):  # noqa: N818 - reads as "not yet (there)"
    """The event refers to a purchase that is not there yet; apply it later."""


class Unprocessable(Exception):  # noqa: N818
    """The event can never take effect (an unknown product, no buyer); kept as FAILED."""


@dataclass(frozen=True)
class Outcome:
    status: EventStatus
    purchase_id: str | None = None


# --- receiving ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Received:
    event_id: str
    duplicate: bool
    status: EventStatus | None


class NotApplied(Exception):  # noqa: N818 - reads as "(the event was) not applied"
    """Raised by :func:`receive_at_once`: the event did not take effect. The caller rolls
    back what that call wrote and hands the event to :func:`receive`."""


def receive(
    session: Session, settings: Settings, event: StripeEvent, now: datetime | None = None
) -> Received:
    """Store a verified event once and apply it; a duplicate changes nothing."""
    now = now or utcnow()
    row = _store(session, event, now)
    if row is None:
        return Received(event.id, duplicate=True, status=None)
    status = _process(session, settings, row, now)
    if status in (EventStatus.WAITING, EventStatus.RECEIVED):
        _retry_later(session, row)
    return Received(event.id, duplicate=False, status=status)


def receive_at_once(
    session: Session, settings: Settings, event: StripeEvent, now: datetime | None = None
) -> Received:
    """:func:`receive` for the usual case, an event that takes effect at once, without the
    savepoint that keeps the event when its effect is undone (two round trips and a nested
    transaction less per event). When the event does not take effect this raises
    :class:`NotApplied`: the caller rolls this call's writes back (its transaction, or the
    savepoint group commit gives each request) and calls :func:`receive`, which applies it
    again and records how it ended."""
    now = now or utcnow()
    row = _store(session, event, now)
    if row is None:
        return Received(event.id, duplicate=True, status=None)
    try:
        outcome = apply(session, settings, event, now)
    except Exception as exc:
        raise NotApplied(event.id) from exc
    _applied(session, row, outcome, now)
    return Received(event.id, duplicate=False, status=outcome.status)


def _store(session: Session, event: StripeEvent, now: datetime) -> WebhookEvent | None:
    """The event's row, inserted now; None when it was there already (a duplicate)."""
    return insert_new(
        session,
        WebhookEvent,
        {
            "id": new_id("whe"),
            "provider": PROVIDER,
            "event_id": event.id,
            "type": event.type,
            "object_id": _str(event.object.get("id")),
            "status": EventStatus.RECEIVED,
            "livemode": event.livemode,
            "payload": event.payload,
            "attempts": 1,  # this one, applied next
            "received_at": now,
        },
    )


_APPLIED = conditional_update(
    WebhookEvent, columns=("status", "error", "processed_at", "purchase_id")
)


def _applied(session: Session, row: WebhookEvent, outcome: Outcome, now: datetime) -> None:
    """Record that the event took effect (one UPDATE, the row is not flushed)."""
    values = {"status": outcome.status, "error": None, "processed_at": now}
    update_if(session, row, _APPLIED, values | {"purchase_id": outcome.purchase_id})


def _retry_later(session: Session, row: WebhookEvent) -> None:
    """A job that applies the event with backoff for :data:`RETRY_WINDOW` (one per attempt
    round: the key carries the attempt that started it)."""
    jobs.enqueue(
        session,
        EVENT_JOB,
        {"event": row.id},
        dedupe_key=f"{EVENT_JOB}:{row.id}:{row.attempts}",
        give_up_after=RETRY_WINDOW,
    )


def get_event(session: Session, row_id: str, *, lock: bool = False) -> WebhookEvent:
    row = None
    if len(row_id) <= 32:
        row = session.get(WebhookEvent, row_id, with_for_update=lock, populate_existing=lock)
    if row is None:
        raise NotFound(f"No webhook event {row_id!r}.", "EVENT_NOT_FOUND")
    return row


def retry(
    session: Session, settings: Settings, row_id: str, now: datetime | None = None
) -> WebhookEvent:
    """Apply a FAILED or WAITING event again now (the seller fixed what was missing, such as a
    product slug); when it still cannot take effect, it waits and is retried as on arrival.
    409 ``EVENT_ALREADY_APPLIED`` for one that took effect or was ignored."""
    row = get_event(session, row_id, lock=True)
    if row.status in (EventStatus.PROCESSED, EventStatus.IGNORED):
        raise Conflict("This event has already been applied.", "EVENT_ALREADY_APPLIED")
    row.attempts += 1
    status = _process(session, settings, row, now or utcnow())
    if status in (EventStatus.WAITING, EventStatus.RECEIVED):
        _retry_later(session, row)
    return row


def process_stored(
    session: Session, settings: Settings, row_id: str, now: datetime | None = None
) -> WebhookEvent | None:
    """Apply a stored event again (the worker); None when it is gone. Final events (processed,
    ignored, failed) are left alone, so running this twice is harmless."""
    row = session.get(WebhookEvent, row_id, with_for_update=True, populate_existing=True)
    if row is None:
        return None
    if row.status in (EventStatus.WAITING, EventStatus.RECEIVED):
        row.attempts += 1
        _process(session, settings, row, now or utcnow())
    return row


def give_up(session: Session, row_id: str, error: str | None) -> None:
    """The event could not be applied within the retry window: FAILED."""
    row = session.get(WebhookEvent, row_id, with_for_update=True, populate_existing=True)
    if row is not None and row.status in (EventStatus.WAITING, EventStatus.RECEIVED):
        row.status = EventStatus.FAILED
        row.error = error or row.error


def _process(session: Session, settings: Settings, row: WebhookEvent, now: datetime) -> EventStatus:
    """Apply a stored event (its attempt already counted) and record how it ended."""
    event = StripeEvent(
        id=row.event_id,
        type=row.type,
        livemode=row.livemode,
        object=row.payload["data"]["object"],
        payload=row.payload,
    )
    savepoint = session.begin_nested()
    try:
        outcome = apply(session, settings, event, now)
    except NotYet as exc:
        savepoint.rollback()
        row.status, row.error = EventStatus.WAITING, str(exc)
    except Unprocessable as exc:
        savepoint.rollback()
        log.warning("stripe event %s (%s) cannot take effect: %s", event.id, event.type, exc)
        row.status, row.error, row.processed_at = EventStatus.FAILED, str(exc), now
        mail.queue_seller_alert(
            session,
            settings,
            {
                "failure": "job",
                "job_kind": event.type,
                "job_id": event.id,
                "attempts": row.attempts,
                "error": str(exc),
            },
        )
    except Exception as exc:
        savepoint.rollback()
        log.exception("stripe event %s (%s) failed; it will be retried", event.id, event.type)
        row.status, row.error = EventStatus.RECEIVED, describe(exc)
    else:
        savepoint.commit()
        _applied(session, row, outcome, now)
    return row.status


# --- effects ---------------------------------------------------------------------------------


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
    purchase = checkout_purchase(session, obj)
    if purchase is None:
        return Outcome(EventStatus.IGNORED)
    if paid:
        if not purchase.email:
            raise Unprocessable("The Checkout Session has no customer e-mail address.")
        _record_amount(purchase, obj)
        flows.complete(session, settings, purchase, now)
    return Outcome(EventStatus.PROCESSED, purchase.id)


def _session_failed(
    session: Session, settings: Settings, event: StripeEvent, now: datetime
) -> Outcome:
    purchase = checkout_purchase(session, event.object)
    if purchase is None:
        return Outcome(EventStatus.IGNORED)
    flows.fail(session, settings, purchase, now)
    return Outcome(EventStatus.PROCESSED, purchase.id)


def _payment_intent_succeeded(
    session: Session, settings: Settings, event: StripeEvent, now: datetime
) -> Outcome:
    obj = event.object
    intent_id = _str(obj.get("id"))
    purchase = _by_intent(session, intent_id)
    if purchase is None:
        purchase = _by_metadata(session, obj)
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
    purchase = _for_payment(session, obj)
    amount = _amount(obj.get("amount")) or 0
    refunded = _amount(obj.get("amount_refunded")) or 0
    full = obj.get("refunded") is True or (amount > 0 and refunded >= amount)
    flows.record_refund(session, settings, purchase, refunded, full=full, now=now)
    return Outcome(EventStatus.PROCESSED, purchase.id)


def _dispute_created(
    session: Session, settings: Settings, event: StripeEvent, now: datetime
) -> Outcome:
    obj = event.object
    purchase = _for_payment(session, obj)
    if _closed_already(session, _str(obj.get("id"))):
        return Outcome(EventStatus.IGNORED, purchase.id)  # its closing came first
    flows.dispute(session, purchase, now)
    return Outcome(EventStatus.PROCESSED, purchase.id)


def _dispute_closed(
    session: Session, settings: Settings, event: StripeEvent, now: datetime
) -> Outcome:
    obj = event.object
    purchase = _for_payment(session, obj)
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
    subscription_id, metadata = _invoice_subscription(obj)
    if subscription_id is None:
        return Outcome(EventStatus.IGNORED)  # a one-off invoice
    purchase = _by_subscription(session, subscription_id) or _by_reference(
        session, _str(metadata.get("purchaseId"))
    )
    if purchase is None:
        raise NotYet(f"No purchase for subscription {subscription_id} yet.")
    if purchase.stripe_subscription_id is None:
        purchase.stripe_subscription_id = subscription_id
    until = _invoice_period_end(obj)
    if until is not None:
        flows.extend_subscription(session, purchase, until)
    return Outcome(EventStatus.PROCESSED, purchase.id)


def _subscription_deleted(
    session: Session, settings: Settings, event: StripeEvent, now: datetime
) -> Outcome:
    obj = event.object
    subscription_id = _str(obj.get("id"))
    purchase = _by_subscription(session, subscription_id) or _by_metadata(session, obj)
    if purchase is None:
        raise NotYet(f"No purchase for subscription {subscription_id} yet.")
    ended = _time(obj.get("ended_at")) or _time(obj.get("canceled_at")) or now
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
    "invoice.paid": _invoice_paid,
    "customer.subscription.deleted": _subscription_deleted,
}


# --- finding the purchase ---------------------------------------------------------------------


def checkout_purchase(session: Session, obj: dict[str, Any]) -> Purchase | None:
    """The purchase a Checkout Session pays for, with what the session tells recorded on it
    (:func:`record_session`), created for a Payment Link sale; None when the session is not
    shipkey's (no reference, no product)."""
    purchase, recorded = _find_or_create(session, obj)
    if purchase is not None and not recorded:
        record_session(session, purchase, obj)
    return purchase


def _find_or_create(session: Session, obj: dict[str, Any]) -> tuple[Purchase | None, bool]:
    """The purchase, and whether it was made here from the session (then already recorded).

    ``metadata.purchaseId`` is set by shipkey (or the seller) and always names a purchase:
    when it is not there yet, the event waits. ``client_reference_id`` is used when it names a
    purchase this session may pay for, and is otherwise left to its owner.
    """
    metadata = _metadata(obj)
    session_id = _str(obj.get("id"))
    own_reference = _str(metadata.get("purchaseId"))
    client_reference = _str(obj.get("client_reference_id"))
    slug = _str(metadata.get("product"))
    if own_reference is None and client_reference is None and slug and session_id:
        # A Payment Link sale, the usual event: the purchase an earlier event of this session
        # made, if any, and the product are read together.
        found = session.execute(_LINK_SALE, {"slug": slug, "session_id": session_id}).first()
        if found is not None:
            sold, made = found
            if made is None:
                return _create_for_link(session, obj, sold)
            return orders.with_product(made, sold), False
        # No such product (renamed since?): the purchase is still looked for, as for any session.
    purchase = _by_session(session, session_id)
    if purchase is not None:
        return purchase, False
    if own_reference is not None:
        purchase = _by_reference(session, own_reference)
        if purchase is None:
            raise NotYet(f"No purchase {own_reference!r} yet.")
        if not _pays_for(purchase, obj):
            raise Unprocessable(f"The session does not pay for purchase {own_reference!r}.")
        return purchase, False
    purchase = _by_reference(session, client_reference)
    if purchase is not None and _pays_for(purchase, obj):
        return purchase, False
    if slug is None:
        return None, False
    if session_id is None:
        raise Unprocessable("The Checkout Session has no id.")
    product = session.scalars(_PRODUCT_BY_SLUG, {"slug": slug}).first()
    if product is None:
        raise Unprocessable(f"metadata.product names no product: {slug!r}.")
    return _create_for_link(session, obj, product)


def _pays_for(purchase: Purchase, obj: dict[str, Any]) -> bool:
    """Whether this session may settle the referenced purchase.

    A buyer can put any ``client_reference_id`` into a Payment Link's URL, so a reference is
    only believed for a purchase that belongs to no other session, and when the session paid at
    least the purchase's price in its currency: paying for a cheap product never completes an
    expensive purchase.
    """
    session_id = _str(obj.get("id"))
    if purchase.stripe_checkout_session_id is not None:
        return purchase.stripe_checkout_session_id == session_id
    amount, currency = _amount(obj.get("amount_total")), _currency(obj.get("currency"))
    if amount is None or currency is None:
        return False
    return amount >= purchase.amount and currency == purchase.currency.upper()


def _create_for_link(
    session: Session, obj: dict[str, Any], product: Product
) -> tuple[Purchase, bool]:
    """A Payment Link sale: the purchase is made from the session (once, even when two events
    of one session arrive together: the session id is unique). True when made here."""
    session_id = _str(obj.get("id"))
    email = _buyer_email(obj)
    if email is None:
        raise Unprocessable("The Checkout Session has no customer e-mail address.")
    purchase = orders.new_purchase_once(
        session,
        product,
        email=email,
        name=_name(_dict(obj.get("customer_details")).get("name")),
        locale=spoken_locale(_str(obj.get("locale"))),
        amount=_amount(obj.get("amount_total")),
        currency=_currency(obj.get("currency")),
        source="stripe",
        columns=_session_ids(obj),
    )
    if purchase is not None:
        return purchase, True
    found = _by_session(session, session_id)
    if found is None:  # the INSERT met another unique value: nothing a retry would not fix
        raise RuntimeError(f"A purchase for session {session_id!r} could not be made.")
    return found, False


def _session_ids(obj: dict[str, Any]) -> dict[str, str | None]:
    """The Stripe ids a Checkout Session gives its purchase."""
    return {
        "stripe_checkout_session_id": _str(obj.get("id")),
        "stripe_payment_intent_id": _ref(obj.get("payment_intent")),
        "stripe_subscription_id": _ref(obj.get("subscription")),
        "stripe_customer_id": _ref(obj.get("customer")),
    }


def record_session(session: Session, purchase: Purchase, obj: dict[str, Any]) -> None:
    """What a Checkout Session tells: its ids, the buyer's e-mail address and locale."""
    ids = _session_ids(obj)
    session_id = ids["stripe_checkout_session_id"]
    if purchase.stripe_checkout_session_id is None and session_id is not None:
        purchase.stripe_checkout_session_id = session_id
    purchase.stripe_payment_intent_id = (
        ids["stripe_payment_intent_id"] or purchase.stripe_payment_intent_id
    )
    purchase.stripe_subscription_id = (
        ids["stripe_subscription_id"] or purchase.stripe_subscription_id
    )
    purchase.stripe_customer_id = ids["stripe_customer_id"] or purchase.stripe_customer_id
    details = _dict(obj.get("customer_details"))
    orders.set_buyer(
        session,
        purchase,
        _buyer_email(obj),
        name=_name(details.get("name")),
        locale=_str(obj.get("locale")),
    )


def _record_amount(purchase: Purchase, obj: dict[str, Any]) -> None:
    amount, currency = _amount(obj.get("amount_total")), _currency(obj.get("currency"))
    if amount is not None and purchase.status is PurchaseStatus.PENDING:
        if purchase.amount != amount:
            purchase.amount = amount
        if currency and purchase.currency != currency:
            purchase.currency = currency


def _for_payment(session: Session, obj: dict[str, Any]) -> Purchase:
    """The purchase a charge, refund or dispute is about (by its payment); NotYet if none."""
    intent_id = _ref(obj.get("payment_intent"))
    purchase = _by_intent(session, intent_id) or _by_metadata(session, obj)
    if purchase is None:
        raise NotYet(f"No purchase with payment {intent_id or obj.get('charge')!r} yet.")
    return purchase


def _by_reference(session: Session, reference: str | None) -> Purchase | None:
    return orders.find_purchase(session, reference) if reference else None


def _by_metadata(session: Session, obj: dict[str, Any]) -> Purchase | None:
    return _by_reference(session, _str(_metadata(obj).get("purchaseId")))


def _by_column(session: Session, column: str, value: str | None) -> Purchase | None:
    if value is None:
        return None
    return session.scalars(_by_column_statement(column), {"value": value}).first()


@functools.cache
def _by_column_statement(column: str) -> Any:
    """The oldest purchase with ``column = :value`` (made once per column: events look
    purchases up on every delivery)."""
    return (
        select(Purchase)
        .where(getattr(Purchase, column) == bindparam("value"))
        .order_by(Purchase.created_at)
        .limit(1)
        .execution_options(populate_existing=True)
    )


def _by_session(session: Session, session_id: str | None) -> Purchase | None:
    return _by_column(session, "stripe_checkout_session_id", session_id)


def _by_intent(session: Session, intent_id: str | None) -> Purchase | None:
    return _by_column(session, "stripe_payment_intent_id", intent_id)


def _by_subscription(session: Session, subscription_id: str | None) -> Purchase | None:
    return _by_column(session, "stripe_subscription_id", subscription_id)


def _closed_already(session: Session, dispute_id: str | None) -> bool:
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


# --- reading Stripe objects defensively -------------------------------------------------------


def _str(value: object) -> str | None:
    return value if isinstance(value, str) and value and len(value) <= 255 else None


def _int(value: object) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _dict(value: object) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _ref(value: object) -> str | None:
    """An id, whether Stripe sent it as a string or as an expanded object."""
    if isinstance(value, dict):
        return _str(value.get("id"))
    return _str(value)


def _metadata(obj: dict[str, Any]) -> dict[str, Any]:
    return _dict(obj.get("metadata"))


def _time(value: object) -> datetime | None:
    seconds = _int(value)
    if seconds is None or seconds <= 0 or seconds > 32_503_680_000:
        return None
    return datetime.fromtimestamp(seconds, UTC)


def _buyer_email(obj: dict[str, Any]) -> str | None:
    """The buyer's address from the session, if it is a valid one."""
    for value in (_dict(obj.get("customer_details")).get("email"), obj.get("customer_email")):
        email = _str(value)
        valid = _valid_email(email) if email is not None else None
        if valid is not None:
            return valid
    return None


@functools.lru_cache(maxsize=256)
def _valid_email(email: str) -> str | None:
    """The normalised address, None when it is not a valid one (remembered: one event asks
    several times)."""
    try:
        return validate_email(email, check_deliverability=False).normalized
    except EmailNotValidError:
        return None


def _amount(value: object) -> int | None:
    """An amount in cents that fits the database (Stripe's are far below the limit)."""
    amount = _int(value)
    return amount if amount is not None and 0 <= amount <= MAX_AMOUNT else None


def _currency(value: object) -> str | None:
    currency = _str(value)
    if currency is None or len(currency) != 3 or not currency.isascii() or not currency.isalpha():
        return None
    return currency.upper()


def _name(value: object) -> str | None:
    name = _str(value)
    return name[:200] if name else None


def _invoice_subscription(obj: dict[str, Any]) -> tuple[str | None, dict[str, Any]]:
    """The subscription an invoice is for, and that subscription's metadata: from
    ``parent.subscription_details`` (current API), else the older top-level field."""
    details = _dict(_dict(obj.get("parent")).get("subscription_details"))
    subscription_id = _ref(details.get("subscription")) or _ref(obj.get("subscription"))
    metadata = _dict(details.get("metadata")) or _dict(obj.get("subscription_details"))
    if not metadata:
        for line in _dict(obj.get("lines")).get("data") or []:
            metadata = _metadata(_dict(line))
            if metadata:
                break
    return subscription_id, metadata


def _invoice_period_end(obj: dict[str, Any]) -> datetime | None:
    """The end of the period an invoice paid for: its latest line's, else ``period_end``."""
    ends = [
        end
        for line in _dict(obj.get("lines")).get("data") or []
        if (end := _time(_dict(_dict(line).get("period")).get("end"))) is not None
    ]
    if ends:
        return max(ends)
    return _time(obj.get("period_end"))


def list_events(
    session: Session, status: EventStatus | None = None, limit: int = 100
) -> list[WebhookEvent]:
    query = select(WebhookEvent)
    if status is not None:
        query = query.where(WebhookEvent.status == status)
    return list(
        session.scalars(
            query.order_by(WebhookEvent.received_at.desc(), WebhookEvent.id).limit(limit)
        )
    )
