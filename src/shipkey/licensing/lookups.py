"""Reading licenses and their activations: by key, by the seller's reference, by purchase.

Each read runs in the caller's session; a license or activation read here is loaded afresh
(``populate_existing``), so a caller that changed the row with a conditional UPDATE sees it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from shipkey.db.paging import Page, page
from shipkey.errors import NotFound
from shipkey.licensing import foreign, keys
from shipkey.licensing.models import License, LicenseActivation, LicenseStatus
from shipkey.orders import search
from shipkey.orders.models import Customer


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


def find_verbatim(session: Session, raw: str) -> License | None:
    """An imported or pooled license by its exact key (after trimming): keys made elsewhere
    are kept as given, whatever their format or case. None without a query where the store
    holds no such keys (:mod:`shipkey.licensing.foreign`)."""
    key = keys.verbatim_key(raw)
    if key is None or not foreign.may_exist(session):
        return None
    return session.scalars(
        select(License)
        .where(License.key == key, License.verbatim.is_(True))
        .execution_options(populate_existing=True)
    ).first()


def resolve_key(session: Session, raw: str, secret: keys.KeySecret) -> str:
    """The stored key ``raw`` names: a key in shipkey's format (checked before any query), or
    else an imported key that matches exactly; 400 ``INVALID_KEY_FORMAT`` for neither."""
    key = keys.parse_key(raw, secret)
    if key is not None:
        return key
    lic = find_verbatim(session, raw)
    if lic is None:
        raise keys.invalid_key_format()
    return lic.key


def lookup(session: Session, ref: str) -> License:
    """A license by key (any case; an imported one exactly) or by id, for the seller."""
    ref = ref.strip()
    lic = session.get(License, ref) if ref.startswith("lic_") and len(ref) <= 32 else None
    if lic is None and len(ref) <= keys.MAX_KEY_LENGTH:
        lic = find_license(session, keys.normalize_key(ref)) or find_verbatim(session, ref)
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


def active_machines(
    session: Session, licenses: Sequence[License]
) -> dict[str, list[LicenseActivation]]:
    """The active activations of each license, newest first, in one query; none is read for
    licenses without a taken seat (``activation_count`` counts the active rows, see
    :mod:`shipkey.licensing.seats`)."""
    machines: dict[str, list[LicenseActivation]] = {lic.id: [] for lic in licenses}
    taken = [lic.id for lic in licenses if lic.activation_count > 0]
    if taken:
        for activation in session.scalars(
            select(LicenseActivation)
            .where(
                LicenseActivation.license_id.in_(taken),
                LicenseActivation.deactivated_at.is_(None),
            )
            .order_by(LicenseActivation.activated_at.desc(), LicenseActivation.id)
        ):
            machines[activation.license_id].append(activation)
    return machines


def list_activations(session: Session, license_id: str) -> list[LicenseActivation]:
    """Every activation of a license, newest first (deactivated ones included)."""
    return list(
        session.scalars(
            select(LicenseActivation)
            .where(LicenseActivation.license_id == license_id)
            .order_by(LicenseActivation.activated_at.desc(), LicenseActivation.id)
        )
    )


@dataclass(frozen=True)
class LicenseRow:
    license: License
    email: str


def list_licenses(
    session: Session,
    *,
    status: LicenseStatus | None,
    product: str | None,
    email: str | None,
    limit: int,
    cursor: str | None,
) -> Page[LicenseRow]:
    """A page of licenses, newest first, with their buyers' addresses. ``status`` is the stored
    status (an ACTIVE license past its end is listed as EXPIRED but found under ACTIVE until the
    expiry is recorded)."""
    statement = select(License)
    if status is not None:
        statement = statement.where(License.status == status)
    if product:
        statement = statement.where(License.product_id.in_(search.product_ids(product)))
    if email:
        statement = statement.where(
            License.customer_id.in_(
                search.customers_matching(
                    search.address_matches(Customer.email, email, anywhere=False)
                )
            )
        )
    found = page(
        session,
        statement,
        created_at=License.created_at,
        row_id=License.id,
        limit=limit,
        cursor=cursor,
    )
    emails = search.customer_emails(session, (lic.customer_id for lic in found.items))
    return Page(
        [LicenseRow(lic, emails.get(lic.customer_id, "")) for lic in found.items],
        found.next_cursor,
    )
