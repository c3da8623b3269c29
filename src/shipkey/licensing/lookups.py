"""Reading licenses and their activations: by key, by the seller's reference, by purchase.

Each read runs in the caller's session; a license or activation read here is loaded afresh
(``populate_existing``), so a caller that changed the row with a conditional UPDATE sees it.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from shipkey.errors import NotFound
from shipkey.licensing import keys
from shipkey.licensing.models import License, LicenseActivation


def find_license(session: Session, key: str) -> License | None:
    return session.scalars(
        select(License).where(License.key == key).execution_options(populate_existing=True)
    ).first()


def get_license(session: Session, key: str) -> License:
    """The license with this (normalised) key, or 404 ``LICENSE_NOT_FOUND``."""
    lic = find_license(session, key)
    if lic is None:
        raise NotFound("No license with this key.", "LICENSE_NOT_FOUND")
    return lic


def lookup(session: Session, ref: str) -> License:
    """A license by key (any case) or by id, for the seller."""
    ref = ref.strip()
    lic = session.get(License, ref) if ref.startswith("lic_") and len(ref) <= 32 else None
    if lic is None and len(ref) <= keys.MAX_KEY_LENGTH:
        lic = find_license(session, keys.normalize_key(ref))
    if lic is None:
        raise NotFound("No license with this key.", "LICENSE_NOT_FOUND")
    return lic


def list_for_purchase(session: Session, purchase_id: str) -> list[License]:
    """The licenses a purchase delivered, oldest first."""
    return list(
        session.scalars(
            select(License)
            .where(License.purchase_id == purchase_id)
            .order_by(License.created_at, License.id)
        )
    )


def active_activation(
    session: Session, license_id: str, machine_id: str
) -> LicenseActivation | None:
    return session.scalars(
        select(LicenseActivation)
        .where(
            LicenseActivation.license_id == license_id,
            LicenseActivation.machine_id == machine_id,
            LicenseActivation.deactivated_at.is_(None),
        )
        .execution_options(populate_existing=True)
    ).first()


def list_activations(session: Session, license_id: str) -> list[LicenseActivation]:
    """Every activation of a license, newest first (deactivated ones included)."""
    return list(
        session.scalars(
            select(LicenseActivation)
            .where(LicenseActivation.license_id == license_id)
            .order_by(LicenseActivation.activated_at.desc(), LicenseActivation.id)
        )
    )
