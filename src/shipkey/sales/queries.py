"""One read of a purchase with what it delivered, for every view that shows it: the admin API
and pages, the buyer portal, the page after checkout, and the e-mail sent again."""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy.orm import Session

from shipkey.downloads import links as downloads
from shipkey.downloads.models import Download
from shipkey.fulfilment import access
from shipkey.fulfilment.access import IssuedAccess
from shipkey.fulfilment.models import AccessGrant
from shipkey.licensing import lookups as license_lookups
from shipkey.licensing.models import License, LicenseActivation, LicenseStatus
from shipkey.orders.models import Purchase


@dataclass(frozen=True)
class PurchaseDetail:
    """A purchase, its download links (newest first), licenses and access grants; with
    ``machines``, each license's active machines too."""

    purchase: Purchase
    links: list[Download]
    licenses: list[License]
    access: list[AccessGrant]
    machines: dict[str, list[LicenseActivation]] = field(default_factory=dict)

    @property
    def working_licenses(self) -> list[License]:
        """The licenses that were not revoked (shown to the buyer, sent again)."""
        return [lic for lic in self.licenses if lic.status is not LicenseStatus.REVOKED]

    def open_access(self, secret: bytes, base_url: str) -> list[IssuedAccess]:
        """The access links that still open (courses, memberships, subscriptions)."""
        return [
            access.describe(secret, base_url, grant)
            for grant in self.access
            if grant.revoked_at is None
        ]


def purchase_detail(
    session: Session, purchase: Purchase, *, link_limit: int = 100, machines: bool = False
) -> PurchaseDetail:
    licenses = license_lookups.list_for_purchase(session, purchase.id)
    active = {}
    if machines:
        active = {
            lic.id: [a for a in license_lookups.list_activations(session, lic.id) if a.active]
            for lic in licenses
        }
    return PurchaseDetail(
        purchase=purchase,
        links=downloads.list_links(session, purchase.id, limit=link_limit),
        licenses=licenses,
        access=access.list_for_purchase(session, purchase.id),
        machines=active,
    )
