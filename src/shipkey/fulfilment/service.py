"""``fulfil(purchase)``: the one place a completed purchase becomes goods.

Called from every path that completes a purchase (admin orders today; Stripe webhooks and the
checkout success page later). It is idempotent: a conditional UPDATE stamps ``fulfilled_at`` and
only the caller whose UPDATE changed the row delivers, so calling it twice — even concurrently,
from two processes — delivers once. Everything it makes is written in the caller's transaction:
all or nothing.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import update
from sqlalchemy.orm import Session

from shipkey.db import rowcount, utcnow
from shipkey.downloads import jobs as stamping
from shipkey.downloads import service as downloads
from shipkey.licensing import service as licensing
from shipkey.licensing.models import License
from shipkey.orders.models import Purchase, PurchaseStatus


@dataclass
class Delivery:
    """What one fulfilment handed over (raw link tokens included: they exist nowhere else)."""

    purchase: Purchase
    links: list[downloads.IssuedLink] = field(default_factory=list)
    licenses: list[License] = field(default_factory=list)


def fulfil(
    session: Session,
    purchase: Purchase,
    base_url: str,
    now: datetime | None = None,
    *,
    license_secret: str,
) -> Delivery | None:
    """Deliver a COMPLETED purchase once; None when it was already fulfilled (or is not due).

    A product with a file gets a download link, one with a license type a license key (keys
    are checksummed with ``license_secret``); a product with both delivers both.
    """
    now = now or utcnow()
    claimed = session.execute(
        update(Purchase)
        .where(
            Purchase.id == purchase.id,
            Purchase.status == PurchaseStatus.COMPLETED,
            Purchase.fulfilled_at.is_(None),
        )
        .values(fulfilled_at=now, delivered_at=now)
        .execution_options(synchronize_session=False)
    )
    if rowcount(claimed) != 1:
        return None
    session.refresh(purchase)
    delivery = Delivery(purchase)
    if purchase.product.has_file:
        delivery.links.append(downloads.issue_link(session, purchase, base_url, now))
        stamping.enqueue_stamp(session, purchase)  # a personal copy for stamped e-books
    if purchase.product.has_license:
        delivery.licenses.append(
            licensing.issue_for_purchase(session, purchase, license_secret, now)
        )
    # Access grants join the delivery here, and the delivery e-mail is
    # written to the outbox in this same transaction.
    return delivery
