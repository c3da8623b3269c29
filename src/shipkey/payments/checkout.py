"""``POST /api/checkout`` and the success page: a Stripe Checkout Session for a new PENDING
purchase, and showing that purchase as soon as it is paid.

Stripe is called outside any database transaction (no lock is held and no connection taken
across the network): so :func:`start` and :func:`confirm` take the :class:`Database` and open
their own short transactions before and after the call, the one kind of function besides the
request dependencies, job handlers and CLI commands that does. The purchase id is drawn first
and sent as ``client_reference_id`` and ``metadata.purchaseId``; the purchase row is written
once Stripe has answered. An event that overtakes that write finds no purchase yet and is
applied later (see :mod:`shipkey.payments.events`).

The success page calls the same fulfilment as the webhook, so the buyer sees the purchase even
when the webhook is late; whichever comes first delivers, the other finds it done.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from shipkey.catalog import service as catalog
from shipkey.catalog.models import Product, ProductType
from shipkey.clock import utcnow
from shipkey.config import Settings
from shipkey.db.engine import Database
from shipkey.errors import BadRequest, Conflict, NotFound, ShipkeyError
from shipkey.ids import new_id
from shipkey.mail.service import support_address
from shipkey.orders import consent
from shipkey.orders import service as orders
from shipkey.orders.models import Purchase, PurchaseStatus
from shipkey.orders.service import purchase_url
from shipkey.payments.effects import apply_checkout_session
from shipkey.payments.gateway import StripeGateway
from shipkey.payments.outcomes import NotYet, Unprocessable
from shipkey.payments.schemas import CheckoutCreate, CheckoutCreated
from shipkey.payments.stripe_objects import PAID
from shipkey.sales.queries import purchase_detail

log = logging.getLogger(__name__)

SESSION_PLACEHOLDER = "{CHECKOUT_SESSION_ID}"
INTERVALS = ("day", "week", "month", "year")


def _recurring(product: Product) -> dict[str, Any]:
    interval = product.meta.get("interval")
    return {"interval": interval if interval in INTERVALS else "month"}


def session_params(
    settings: Settings,
    product: Product,
    purchase_id: str,
    email: str | None,
    locale: str | None,
) -> dict[str, Any]:
    """The Checkout Session for one purchase of ``product``: payment mode, or subscription mode
    for SUBSCRIPTION products. ``metadata.stripePriceId`` uses a price made in Stripe."""
    subscription = product.type is ProductType.SUBSCRIPTION
    price_id = product.meta.get("stripePriceId")
    if isinstance(price_id, str) and price_id:
        line: dict[str, Any] = {"price": price_id, "quantity": 1}
    else:
        price_data: dict[str, Any] = {
            "currency": product.currency.lower(),
            "unit_amount": product.price,
            "product_data": {"name": product.name},
        }
        if product.description:
            price_data["product_data"]["description"] = product.description[:500]
        if subscription:
            price_data["recurring"] = _recurring(product)
        line = {"price_data": price_data, "quantity": 1}
    metadata = {"purchaseId": purchase_id, "product": product.slug}
    params: dict[str, Any] = {
        "mode": "subscription" if subscription else "payment",
        "line_items": [line],
        "client_reference_id": purchase_id,
        "metadata": metadata,
        "success_url": f"{settings.base_url}/checkout/success?session_id={SESSION_PLACEHOLDER}",
        "cancel_url": f"{settings.base_url}/checkout/cancel?purchase={purchase_id}",
        "locale": locale or "auto",
    }
    if subscription:
        params["subscription_data"] = {"metadata": metadata}
    else:
        params["payment_intent_data"] = {"metadata": metadata}
    if email:
        params["customer_email"] = email
    if settings.waiver_required:
        # The buyer ticks a box with these words before paying (Stripe needs the seller's terms
        # of service URL in its Checkout settings for this box).
        params["consent_collection"] = {"terms_of_service": "required"}
        params["custom_text"] = {
            "terms_of_service_acceptance": {
                "message": consent.text_for(locale, settings.default_locale)
            }
        }
    if settings.automatic_tax:
        params["automatic_tax"] = {"enabled": True}
        params["tax_id_collection"] = {"enabled": True}
        if not subscription:  # a subscription's invoices are made anyway
            params["invoice_creation"] = {"enabled": True}
    return params


def start(
    db: Database,
    settings: Settings,
    gateway: StripeGateway,
    data: CheckoutCreate,
    client_ip: str | None = None,
) -> CheckoutCreated:
    """A new PENDING purchase and the Stripe Checkout Session that pays for it. With the
    withdrawal waiver on, 400 ``CONSENT_REQUIRED`` unless ``data.consent``; the consent is
    recorded on the purchase (when, the words, their version, ``client_ip``).

    Takes the :class:`Database` rather than a session because Stripe is called between two
    transactions: the product is read in one, the purchase written in the next once Stripe has
    answered, and no connection is held while it is asked."""
    if settings.waiver_required and not data.consent:
        raise BadRequest(
            "The buyer must agree that delivery starts at once and that the right of "
            "withdrawal ends with it (consent: true).",
            "CONSENT_REQUIRED",
        )
    with db.read_session() as session:
        product = catalog.get_product(session, data.product)
        if not product.active:
            raise Conflict("This product is not for sale.", "PRODUCT_INACTIVE")
    purchase_id = new_id("pur")
    email = str(data.email) if data.email else None
    params = session_params(settings, product, purchase_id, email, data.locale)
    created = gateway.create_checkout_session(params, idempotency_key=f"checkout-{purchase_id}")
    if not created.url:
        raise Conflict("Stripe returned no checkout URL.", "PAYMENT_PROVIDER_ERROR")
    columns: dict[str, Any] = {"stripe_checkout_session_id": created.id}
    if settings.waiver_required:
        words = consent.text_for(data.locale, settings.default_locale)
        columns |= {
            "consent_accepted_at": utcnow(),
            "consent_text": words,
            "consent_text_version": consent.version_of(words),
            "consent_ip": client_ip,
        }
    with db.session() as session:
        for_sale = session.get(Product, product.id)
        if for_sale is None:
            raise NotFound("The product was deleted.", "PRODUCT_NOT_FOUND")
        orders.new_purchase(
            session,
            for_sale,
            email=email,
            locale=data.locale,
            source="stripe",
            purchase_id=purchase_id,
            columns=columns,
        )
    return CheckoutCreated(url=created.url, purchase_id=purchase_id, session_id=created.id)


def with_invoice(settings: Settings, obj: dict[str, Any]) -> dict[str, Any]:
    """A Checkout Session whose ``invoice`` is only an id, with the invoice itself, so that
    the delivery e-mail can link its page. Stripe is asked outside any transaction (before the
    event is applied); when it does not answer the session is applied as it is, and the
    purchase page links the invoice once a later event or the success page brings it."""
    invoice_id = obj.get("invoice")
    if not settings.automatic_tax or not isinstance(invoice_id, str) or not invoice_id:
        return obj
    try:
        invoice = StripeGateway(settings).retrieve_invoice(invoice_id)
    except ShipkeyError as exc:
        log.warning("invoice %s of session %s: %s", invoice_id, obj.get("id"), exc)
        return obj
    return {**obj, "invoice": invoice}


# --- the success page -------------------------------------------------------------------------


@dataclass
class PurchaseView:
    """What the buyer sees after paying."""

    state: str  # "paid", "processing", "failed", "refunded", "unknown"
    purchase_id: str | None = None
    locale: str | None = None  # the purchase's, for the page's language
    product_name: str | None = None
    email: str | None = None
    purchase_url: str | None = None
    support: str | None = None
    has_file: bool = False
    licenses: list[tuple[str, datetime | None]] = field(default_factory=list)
    access: list[tuple[str, str]] = field(default_factory=list)


def confirm(
    db: Database, settings: Settings, gateway: StripeGateway, session_id: str
) -> PurchaseView:
    """Look the session up at Stripe and apply it as its webhook would (fulfil when paid).

    Takes the :class:`Database` rather than a session because Stripe is asked first, outside
    any transaction; the session is then applied in one transaction and, once that committed,
    the purchase is read for the page in another."""
    if not session_id.startswith("cs_") or len(session_id) > 255:
        raise NotFound("No such checkout session.", "CHECKOUT_NOT_FOUND")
    found = gateway.retrieve_checkout_session(
        session_id, expand=["invoice"] if settings.automatic_tax else None
    )
    paid = found.data.get("status") == "complete" and found.data.get("payment_status") in PAID
    try:
        with db.session() as session:
            outcome = apply_checkout_session(session, settings, found.data, paid=paid, now=utcnow())
    except NotYet:
        return PurchaseView(state="processing", support=support_address(settings))
    except Unprocessable as exc:
        log.warning("checkout session %s: %s", session_id, exc)
        return PurchaseView(state="unknown", support=support_address(settings))
    if outcome.purchase_id is None:
        raise NotFound("This checkout session is not a shipkey sale.", "CHECKOUT_NOT_FOUND")
    with db.read_session() as session:
        return view(session, settings, orders.get_purchase(session, outcome.purchase_id))


def view(session: Session, settings: Settings, purchase: Purchase) -> PurchaseView:
    states = {
        PurchaseStatus.COMPLETED: "paid",
        PurchaseStatus.PENDING: "processing",
        PurchaseStatus.FAILED: "failed",
        PurchaseStatus.REFUNDED: "refunded",
        PurchaseStatus.DISPUTED: "processing",
    }
    result = PurchaseView(
        state=states[purchase.status],
        purchase_id=purchase.id,
        locale=purchase.locale,
        product_name=purchase.product.name,
        email=purchase.email,
        purchase_url=purchase_url(settings, purchase.id),
        support=support_address(settings),
        has_file=purchase.product.has_file,
    )
    if purchase.status is PurchaseStatus.COMPLETED and purchase.fulfilled_at is not None:
        detail = purchase_detail(session, purchase)
        result.licenses = [(lic.key, lic.expires_at) for lic in detail.working_licenses]
        result.access = [
            (item.title, item.url)
            for item in detail.open_access(settings.secret, settings.base_url)
        ]
    return result
