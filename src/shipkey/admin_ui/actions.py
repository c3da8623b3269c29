"""Which buttons the seller's pages offer for the state a purchase or license is in, and what a
refund or a revoke will do, spelled out on the page that asks to confirm it.

The buttons follow the rules the actions refuse by: a button the state does not allow is not
shown, and a form posted for it anyway (a stale page, a second tab) is refused with 409.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.orm import Session

from shipkey.clock import utcnow
from shipkey.config import Settings
from shipkey.errors import Conflict
from shipkey.licensing.admin import allowed_changes
from shipkey.licensing.models import License
from shipkey.orders.models import Purchase, PurchaseStatus
from shipkey.sales.queries import purchase_detail

REFUNDABLE = (PurchaseStatus.COMPLETED, PurchaseStatus.DISPUTED)
"""The states a seller's refund leaves (``sales.flows.refund``)."""

CLOSED = (PurchaseStatus.REFUNDED, PurchaseStatus.FAILED)
"""States whose downloads are over: counting them again or adding more changes nothing."""


def purchase_actions(purchase: Purchase) -> frozenset[str]:
    """The purchase page's buttons the purchase's state allows."""
    allowed: set[str] = set()
    status = purchase.status
    if status is PurchaseStatus.COMPLETED and purchase.fulfilled_at is not None and purchase.email:
        allowed.add("resend")
    if purchase.product.has_file:
        if status not in CLOSED:
            allowed |= {"reset-downloads", "add-downloads"}
        if status is PurchaseStatus.COMPLETED and purchase.downloads_left > 0:
            allowed.add("download-link")
    if status in REFUNDABLE:
        allowed.add("refund")
    return frozenset(allowed)


def ensure_open(purchase: Purchase) -> None:
    """409 ``INVALID_PURCHASE_STATE`` for a refunded or failed purchase's download count."""
    if purchase.status in CLOSED:
        raise Conflict(
            f"The purchase is {purchase.status.value}: its downloads are over.",
            "INVALID_PURCHASE_STATE",
        )


def ensure_refundable(purchase: Purchase) -> None:
    """409 ``INVALID_PURCHASE_STATE`` unless the seller may refund the purchase now (refunding
    twice, which the API takes as a retry, is a stale button here)."""
    if purchase.status not in REFUNDABLE:
        raise Conflict(
            f"A {purchase.status.value} purchase cannot be refunded.", "INVALID_PURCHASE_STATE"
        )


@dataclass(frozen=True)
class RefundPreview:
    """What refunding a purchase ends: the download links that still work, the licenses that
    are not revoked yet, the access that still opens, and whether the buyer is e-mailed."""

    links: int
    keys: list[str]
    access: list[str]
    emailed: bool


def refund_preview(
    session: Session, settings: Settings, purchase: Purchase, now: datetime | None = None
) -> RefundPreview:
    now = now or utcnow()
    detail = purchase_detail(session, purchase)
    return RefundPreview(
        links=sum(
            1
            for link in detail.links
            if link.downloaded_at is None and link.revoked_at is None and link.expires_at > now
        ),
        keys=[lic.key for lic in detail.working_licenses],
        access=[item.title for item in detail.open_access(settings.secret, settings.base_url)],
        emailed=purchase.fulfilled_at is not None and bool(purchase.email),
    )


def license_actions(lic: License) -> list[str]:
    """The license page's buttons, in their order, that the license's state allows (freeing
    its seats is always allowed)."""
    allowed = allowed_changes(lic)
    shown = [name for name in ("suspend", "reinstate") if name in allowed]
    return [*shown, "reset-activations", *(["revoke"] if "revoke" in allowed else [])]
