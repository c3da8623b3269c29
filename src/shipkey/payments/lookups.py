"""Finding (or, for a Payment Link sale, creating) the purchase a Stripe event is about.

A Checkout Session names its purchase by ``metadata.purchaseId`` or ``client_reference_id``
(both set by ``POST /api/checkout``) or by its own id; else ``metadata.product`` (a slug, as on a
Stripe Payment Link) with ``customer_details.email`` creates it. Charge, refund and dispute
events find it by ``payment_intent``; subscription events by the subscription id. A reference to
a purchase that is not there yet raises :class:`~shipkey.payments.outcomes.NotYet`.
"""

from __future__ import annotations

import functools
from typing import Any

from sqlalchemy import bindparam, select
from sqlalchemy.orm import Session, lazyload

from shipkey.catalog.models import Product
from shipkey.clock import utcnow
from shipkey.i18n import spoken_locale
from shipkey.orders import consent
from shipkey.orders import service as orders
from shipkey.orders.models import Purchase
from shipkey.payments.outcomes import NotYet, Unprocessable
from shipkey.payments.stripe_objects import (
    amount,
    buyer_email,
    buyer_name,
    consent_accepted,
    consent_words,
    currency,
    invoice_page,
    metadata,
    purchase_reference,
    ref,
    session_ids,
    text,
)

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


def checkout_purchase(session: Session, obj: dict[str, Any]) -> Purchase | None:
    """The purchase a Checkout Session pays for, with what the session tells recorded on it
    (:func:`record_session`), created for a Payment Link sale; None when the session is not
    shipkey's (no reference, no product)."""
    purchase, recorded = _find_or_create(session, obj)
    if purchase is not None and not recorded:
        record_session(session, purchase, obj)
    if purchase is not None:
        record_consent_and_invoice(purchase, obj)
    return purchase


def record_consent_and_invoice(purchase: Purchase, obj: dict[str, Any]) -> None:
    """The buyer's consent to immediate delivery given on the Checkout page (a Payment Link's
    sale: ``POST /api/checkout`` recorded it already, with the address), and Stripe's invoice."""
    if purchase.consent_accepted_at is None and consent_accepted(obj):
        words = consent_words(obj) or consent.text_for(purchase.locale)
        purchase.consent_accepted_at = utcnow()
        purchase.consent_text = words
        purchase.consent_text_version = consent.version_of(words)
    invoice_id = ref(obj.get("invoice"))
    if invoice_id is not None and purchase.stripe_invoice_id != invoice_id:
        purchase.stripe_invoice_id = invoice_id
    page = invoice_page(obj)
    if page is not None and purchase.invoice_url != page:
        purchase.invoice_url = page


def _find_or_create(session: Session, obj: dict[str, Any]) -> tuple[Purchase | None, bool]:
    """The purchase, and whether it was made here from the session (then already recorded).

    ``metadata.purchaseId`` is set by shipkey (or the seller) and always names a purchase:
    when it is not there yet, the event waits. ``client_reference_id`` is used when it names a
    purchase this session may pay for, and is otherwise left to its owner.
    """
    tags = metadata(obj)
    session_id = text(obj.get("id"))
    own_reference = text(tags.get("purchaseId"))
    client_reference = text(obj.get("client_reference_id"))
    slug = text(tags.get("product"))
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
    purchase = by_session(session, session_id)
    if purchase is not None:
        return purchase, False
    if own_reference is not None:
        purchase = by_reference(session, own_reference)
        if purchase is None:
            raise NotYet(f"No purchase {own_reference!r} yet.")
        if not _pays_for(purchase, obj):
            raise Unprocessable(f"The session does not pay for purchase {own_reference!r}.")
        return purchase, False
    purchase = by_reference(session, client_reference)
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
    session_id = text(obj.get("id"))
    if purchase.stripe_checkout_session_id is not None:
        return purchase.stripe_checkout_session_id == session_id
    paid, paid_in = amount(obj.get("amount_total")), currency(obj.get("currency"))
    if paid is None or paid_in is None:
        return False
    return paid >= purchase.amount and paid_in == purchase.currency.upper()


def _create_for_link(
    session: Session, obj: dict[str, Any], product: Product
) -> tuple[Purchase, bool]:
    """A Payment Link sale: the purchase is made from the session (once, even when two events
    of one session arrive together: the session id is unique). True when made here."""
    session_id = text(obj.get("id"))
    email = buyer_email(obj)
    if email is None:
        raise Unprocessable("The Checkout Session has no customer e-mail address.")
    purchase = orders.new_purchase_once(
        session,
        product,
        email=email,
        name=buyer_name(obj),
        locale=spoken_locale(text(obj.get("locale"))),
        amount=amount(obj.get("amount_total")),
        currency=currency(obj.get("currency")),
        source="stripe",
        columns=session_ids(obj),
    )
    if purchase is not None:
        return purchase, True
    found = by_session(session, session_id)
    if found is None:  # the INSERT met another unique value: nothing a retry would not fix
        raise RuntimeError(f"A purchase for session {session_id!r} could not be made.")
    return found, False


def record_session(session: Session, purchase: Purchase, obj: dict[str, Any]) -> None:
    """What a Checkout Session tells: its ids, the buyer's e-mail address and locale."""
    ids = session_ids(obj)
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
    orders.set_buyer(
        session,
        purchase,
        buyer_email(obj),
        name=buyer_name(obj),
        locale=text(obj.get("locale")),
    )


def for_payment(session: Session, obj: dict[str, Any]) -> Purchase:
    """The purchase a charge, refund or dispute is about (by its payment); NotYet if none."""
    intent_id = ref(obj.get("payment_intent"))
    purchase = by_intent(session, intent_id) or by_metadata(session, obj)
    if purchase is None:
        raise NotYet(f"No purchase with payment {intent_id or obj.get('charge')!r} yet.")
    return purchase


def by_reference(session: Session, reference: str | None) -> Purchase | None:
    """The purchase with this id (or token), if ``reference`` names one."""
    return orders.find_purchase(session, reference) if reference else None


def by_metadata(session: Session, obj: dict[str, Any]) -> Purchase | None:
    """The purchase ``metadata.purchaseId`` names."""
    return by_reference(session, purchase_reference(obj))


def by_session(session: Session, session_id: str | None) -> Purchase | None:
    return _by_column(session, "stripe_checkout_session_id", session_id)


def by_intent(session: Session, intent_id: str | None) -> Purchase | None:
    return _by_column(session, "stripe_payment_intent_id", intent_id)


def by_subscription(session: Session, subscription_id: str | None) -> Purchase | None:
    return _by_column(session, "stripe_subscription_id", subscription_id)


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
