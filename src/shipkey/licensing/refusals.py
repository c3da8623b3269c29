"""Why a license cannot be used now, and the expiry written when that is first noticed.

A license past ``expires_at`` is treated as EXPIRED everywhere, and the status EXPIRED is
written the first time that is noticed (even by a request that is then refused).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import update
from sqlalchemy.orm import Session

from shipkey.db.writes import rowcount
from shipkey.errors import Forbidden
from shipkey.licensing.models import License, LicenseStatus


class LicenseRefused(Forbidden):
    """The license cannot be used (suspended, revoked, expired, no seat left).

    Raised before any seat changes, so what was recorded on the way (an expiry) is kept.
    """


def refusal(lic: License, now: datetime) -> LicenseRefused | None:
    """Why ``lic`` cannot be used now, if it cannot."""
    status = lic.effective_status(now)
    if status is LicenseStatus.REVOKED:
        return LicenseRefused("This license was revoked.", "LICENSE_REVOKED")
    if status is LicenseStatus.SUSPENDED:
        return LicenseRefused("This license is suspended.", "LICENSE_SUSPENDED")
    if status is LicenseStatus.EXPIRED:
        return LicenseRefused("This license has expired.", "LICENSE_EXPIRED")
    return None


def ensure_product(lic: License, product: str | None) -> None:
    """403 ``PRODUCT_MISMATCH`` when the software names a product and ``lic`` is of another."""
    if product is not None and lic.product.slug != product:
        raise LicenseRefused("This license key is for another product.", "PRODUCT_MISMATCH")


def record_expiry(session: Session, license_id: str, now: datetime) -> bool:
    """ACTIVE → EXPIRED once ``expires_at`` has passed; True when this call changed it."""
    result = session.execute(
        update(License)
        .where(
            License.id == license_id,
            License.status == LicenseStatus.ACTIVE,
            License.expires_at.is_not(None),
            License.expires_at <= now,
        )
        .values(status=LicenseStatus.EXPIRED, expired_at=now)
        .execution_options(synchronize_session=False)
    )
    return rowcount(result) == 1


def ensure_usable(session: Session, lic: License, now: datetime) -> None:
    """Raise :class:`LicenseRefused` unless ``lic`` can be used now; an ACTIVE license past its
    expiry is first recorded as EXPIRED in the caller's transaction."""
    refused = refusal(lic, now)
    if refused is None:
        return
    if lic.status is LicenseStatus.ACTIVE:  # past its expiry: record it
        record_expiry(session, lic.id, now)
    raise refused
