"""``fulfil(purchase)``: the one place a completed purchase becomes goods.

Called from every path that completes a purchase: admin orders, Stripe webhooks and the checkout
success page. It is idempotent: a conditional UPDATE stamps ``fulfilled_at`` and only the caller
whose UPDATE changed the row delivers, so calling it twice — even concurrently, from two
processes — delivers once. Everything it makes (links, license, access grant, and the delivery
e-mail in the outbox) is written in the caller's transaction: all or nothing.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy.orm import Session

from shipkey.config import Settings
from shipkey.db import conditional_update, update_if, utcnow
from shipkey.downloads import jobs as stamping
from shipkey.downloads import links as downloads
from shipkey.errors import Conflict
from shipkey.fulfilment import access
from shipkey.licensing import service as licensing
from shipkey.licensing.models import License, LicenseStatus
from shipkey.mail import service as mail
from shipkey.mail.models import MailMessage
from shipkey.orders.models import Purchase, PurchaseStatus

CLAIMABLE = (Purchase.fulfilled_at.is_(None), Purchase.customer_id.is_not(None))
"""What a purchase must be for an UPDATE to claim it: not delivered yet, its buyer known.
Whoever's UPDATE stamps ``fulfilled_at`` delivers."""
_CLAIM = conditional_update(
    Purchase,
    Purchase.status == PurchaseStatus.COMPLETED,
    *CLAIMABLE,
    columns=("fulfilled_at", "delivered_at"),
)


@dataclass
class Delivery:
    """What one fulfilment handed over (raw link tokens included: they exist nowhere else)."""

    purchase: Purchase
    links: list[downloads.IssuedLink] = field(default_factory=list)
    licenses: list[License] = field(default_factory=list)
    access: list[access.IssuedAccess] = field(default_factory=list)
    message: MailMessage | None = None


def fulfil(
    session: Session, settings: Settings, purchase: Purchase, now: datetime | None = None
) -> Delivery | None:
    """Deliver a COMPLETED purchase once; None when it was already fulfilled (or is not due:
    not completed, or its buyer is not known yet).

    A product with a file gets a download link, one with a license type a license key, a
    COURSE, MEMBERSHIP or SUBSCRIPTION an access grant; a product with several delivers each.
    The delivery e-mail goes to the outbox in the same transaction.
    """
    now = now or utcnow()
    if not update_if(session, purchase, _CLAIM, {"fulfilled_at": now, "delivered_at": now}):
        return None
    return deliver(session, settings, purchase, now)


def deliver(session: Session, settings: Settings, purchase: Purchase, now: datetime) -> Delivery:
    """What :func:`fulfil` hands over, for a caller whose conditional UPDATE has just stamped
    ``fulfilled_at`` (so it alone delivers): :func:`fulfil` itself, and completing a purchase,
    which claims it in the UPDATE that completes it."""
    if purchase.customer_id is None:
        # The claim saw a buyer that this session has not loaded (another request recorded it
        # while this one waited for the row): read the row again rather than deliver to no one.
        session.refresh(purchase)
    delivery = Delivery(purchase)
    product = purchase.product
    if product.has_file:
        delivery.links.append(downloads.issue_link(session, purchase, settings.base_url, now))
        stamping.enqueue_stamp(session, purchase)  # a personal copy for stamped e-books
    if product.has_license:
        lic = licensing.issue_for_purchase(session, purchase, settings.license_key_secret, now)
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
    return delivery


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
    if purchase.product.has_file and purchase.downloads_left > 0:
        link = downloads.issue_link(session, purchase, settings.base_url, now)
        links.append((link.url, link.expires_at))
    licenses = [
        (lic.key, lic.expires_at)
        for lic in licensing.list_for_purchase(session, purchase.id)
        if lic.status is not LicenseStatus.REVOKED
    ]
    grants = [
        access.describe(settings.secret, settings.base_url, grant)
        for grant in access.list_for_purchase(session, purchase.id)
        if grant.revoked_at is None
    ]
    return mail.queue_delivery(
        session, settings, purchase, links, licenses, [(g.title, g.url) for g in grants]
    )
