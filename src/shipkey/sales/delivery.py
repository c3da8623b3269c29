"""Handing over the goods of a purchase that has just been claimed for delivery, and sending
them again.

A purchase is delivered once: :mod:`shipkey.orders.service` claims it with a conditional UPDATE
(:func:`~shipkey.orders.service.claim`, or
:func:`~shipkey.orders.service.complete_and_claim` when it completes), and only the caller whose
UPDATE matched calls :func:`deliver`. Everything it makes (links, license, access grant, and
the delivery e-mail in the outbox) is written in the caller's transaction: all or nothing.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy.orm import Session

from shipkey.clock import utcnow
from shipkey.config import Settings
from shipkey.downloads import jobs as stamping
from shipkey.downloads import links as downloads
from shipkey.errors import Conflict
from shipkey.fulfilment import access
from shipkey.jobs import service as jobs
from shipkey.jobs.kinds import RISK_CHECK, SALE_KEY
from shipkey.licensing import issuing as licensing
from shipkey.licensing import pools
from shipkey.licensing.models import License
from shipkey.mail import service as mail
from shipkey.mail.models import MailMessage
from shipkey.orders import service as orders
from shipkey.orders.models import Purchase, PurchaseStatus
from shipkey.sales import events
from shipkey.sales.queries import purchase_detail


@dataclass
class Delivery:
    """What one delivery handed over (raw link tokens included: they exist nowhere else)."""

    purchase: Purchase
    links: list[downloads.IssuedLink] = field(default_factory=list)
    licenses: list[License] = field(default_factory=list)
    access: list[access.IssuedAccess] = field(default_factory=list)
    message: MailMessage | None = None


def fulfil(
    session: Session, settings: Settings, purchase: Purchase, now: datetime | None = None
) -> Delivery | None:
    """Deliver a COMPLETED purchase once; None when it was already delivered (or is not due:
    not completed, or its buyer is not known yet). Safe to call twice, even concurrently."""
    now = now or utcnow()
    if not orders.claim(session, purchase, now):
        return None
    return deliver(session, settings, purchase, now)


def deliver(session: Session, settings: Settings, purchase: Purchase, now: datetime) -> Delivery:
    """The goods of a purchase this caller has just claimed.

    A product with a file gets a download link, one with a license type a license key, a
    COURSE, MEMBERSHIP or SUBSCRIPTION an access grant; a product with several delivers each.
    The delivery e-mail goes to the outbox in the same transaction.
    """
    if purchase.customer_id is None:
        # The claim saw a buyer that this session has not loaded (another request recorded it
        # while this one waited for the row): read the row again rather than deliver to no one.
        session.refresh(purchase)
    delivery = Delivery(purchase)
    product = purchase.product
    if product.has_file and purchase.under_review_since is None:
        delivery.links.append(downloads.issue_link(session, purchase, settings.base_url, now))
        stamping.enqueue_stamp(session, purchase)  # a personal copy for stamped e-books
    if product.has_license:
        lic = _license(session, settings, purchase, now)
        if lic is not None:
            if purchase.paid_until is not None and lic.expires_at is not None:
                licensing.extend_for_purchase(session, purchase.id, purchase.paid_until)
                session.refresh(lic)
            delivery.licenses.append(lic)
    grant = access.grant_for_purchase(session, settings.secret, settings.base_url, purchase, now)
    if grant is not None:
        delivery.access.append(grant)
    if purchase.email:
        delivery.message = mail.queue_delivery(
            session,
            settings,
            purchase,
            [(link.url, link.expires_at) for link in delivery.links],
            [(lic.key, lic.expires_at) for lic in delivery.licenses],
            [(item.title, item.url) for item in delivery.access],
        )
    # The buyer's earlier refunds and disputes, counted by the worker (whatever the goods, and
    # whether or not the delivery e-mail goes out).
    jobs.enqueue(session, RISK_CHECK, {SALE_KEY: purchase.id})
    events.announce(session, "purchase.completed", purchase)
    return delivery


def _license(
    session: Session, settings: Settings, purchase: Purchase, now: datetime
) -> License | None:
    """A generated key, or the next key of the product's pool; with the pool empty, None: the
    purchase waits for a key (:mod:`shipkey.sales.key_pools`) and the seller is alerted."""
    secret = settings.license_key_secret
    if not purchase.product.key_pool:
        return licensing.issue_for_purchase(session, purchase, secret, now)
    lic = pools.issue_from_pool(session, purchase, secret, now)
    if lic is None:
        mail.queue_seller_alert(
            session,
            settings,
            {
                "failure": "key_pool",
                "product_name": purchase.product.name,
                "purchase_id": purchase.id,
                "error": "",
                "attempts": 0,
            },
        )
    return lic


def resend(
    session: Session, settings: Settings, purchase: Purchase, now: datetime | None = None
) -> MailMessage:
    """The delivery e-mail again: a fresh download link (when downloads are left), the
    licenses that still work, and the access links. 409 unless the purchase is delivered."""
    now = now or utcnow()
    if purchase.status is not PurchaseStatus.COMPLETED or purchase.fulfilled_at is None:
        raise Conflict(
            f"The purchase is {purchase.status.value} and has not been delivered.",
            "PURCHASE_NOT_COMPLETED",
        )
    if not purchase.email:
        raise Conflict("The purchase has no e-mail address.", "NO_EMAIL")
    links = []
    if (
        purchase.product.has_file
        and purchase.downloads_left > 0
        and purchase.under_review_since is None
    ):
        link = downloads.issue_link(session, purchase, settings.base_url, now)
        links.append((link.url, link.expires_at))
    detail = purchase_detail(session, purchase)
    return mail.queue_delivery(
        session,
        settings,
        purchase,
        links,
        [(lic.key, lic.expires_at) for lic in detail.working_licenses],
        [(item.title, item.url) for item in detail.open_access(settings.secret, settings.base_url)],
    )
