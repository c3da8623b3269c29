"""Issuing licenses (for a sale or by hand) and what a purchase's fate does to its licenses.

Everything here runs in the caller's transaction. The purchase-wide changes (a refund revokes,
a dispute suspends or reinstates, a subscription payment extends, a cancellation ends) are
single conditional UPDATEs that return how many licenses changed.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import or_, update
from sqlalchemy.orm import Session

from shipkey.catalog import service as catalog
from shipkey.catalog.models import LicenseType, Product
from shipkey.catalog.schemas import DEFAULT_LICENSE_DAYS
from shipkey.clock import utcnow
from shipkey.db.writes import insert_new, rowcount
from shipkey.errors import Conflict
from shipkey.ids import new_id
from shipkey.licensing import events, keys
from shipkey.licensing.models import License, LicenseStatus
from shipkey.orders import service as orders
from shipkey.orders.models import Purchase

KEY_ATTEMPTS = 8


def expiry_for(license_type: LicenseType, days: int | None, now: datetime) -> datetime | None:
    """PERPETUAL licenses never end; SUBSCRIPTION and TRIAL ones run ``days`` from ``now``."""
    if license_type is LicenseType.PERPETUAL:
        return None
    return now + timedelta(days=days or DEFAULT_LICENSE_DAYS[license_type])


def issue_license(
    session: Session,
    product: Product,
    customer_id: str,
    secret: str,
    *,
    purchase_id: str | None = None,
    max_activations: int | None = None,
    days: int | None = None,
    now: datetime | None = None,
    key: str | None = None,
) -> License:
    """A new ACTIVE license for ``product`` with a fresh key, or with ``key`` (a key from the
    product's pool, kept verbatim).

    Keys are unique (a unique index); on the rare collision another key is drawn.
    """
    if product.license_type is None:
        raise Conflict(f"The product {product.slug!r} has no license type.", "NO_LICENSE")
    now = now or utcnow()
    prefix = keys.key_prefix_for(product.slug, product.key_prefix)
    values = {
        "id": new_id("lic"),
        "product_id": product.id,
        "customer_id": customer_id,
        "purchase_id": purchase_id,
        "license_type": product.license_type,
        "verbatim": False,
        "status": LicenseStatus.ACTIVE,
        "max_activations": max_activations or product.max_activations,
        "activation_count": 0,
        "expires_at": expiry_for(product.license_type, days or product.license_days, now),
        "created_at": now,
    }
    if key is not None:
        verbatim = not keys.check_key(key, secret)
        lic = insert_new(session, License, {**values, "key": key, "verbatim": verbatim})
        if lic is None:
            raise Conflict("This license key is in use already.", "KEY_IN_USE")
        return lic
    for _ in range(KEY_ATTEMPTS):
        lic = insert_new(session, License, {**values, "key": keys.generate_key(prefix, secret)})
        if lic is not None:
            events.announce(session, "license.created", lic)
            return lic
    raise RuntimeError("could not draw an unused license key")  # pragma: no cover


def issue_for_purchase(
    session: Session,
    purchase: Purchase,
    secret: str,
    now: datetime | None = None,
    key: str | None = None,
) -> License:
    """The license a purchase of a licensed product delivers (with ``key``, that key)."""
    if purchase.customer_id is None:
        raise ValueError(f"purchase {purchase.id} has no buyer yet")
    return issue_license(
        session,
        purchase.product,
        purchase.customer_id,
        secret,
        purchase_id=purchase.id,
        now=now,
        key=key,
    )


def issue_manual(
    session: Session,
    product_ref: str,
    email: str,
    secret: str,
    *,
    name: str | None = None,
    max_activations: int | None = None,
    days: int | None = None,
) -> License:
    """A license handed out without a sale (review copies, replacements, gifts).

    It belongs to the buyer with that e-mail address (created if new) and to no purchase, so
    no refund or dispute can end it; the admin API can.
    """
    product = catalog.get_product(session, product_ref)
    if product.license_type is None:
        raise Conflict(f"The product {product.slug!r} is not sold with a license.", "NO_LICENSE")
    customer = orders.customer_for(session, email, name)
    return issue_license(
        session, product, customer.id, secret, max_activations=max_activations, days=days
    )


# --- what a purchase's fate does to its licenses ----------------------------------------------


def revoke_for_purchase(session: Session, purchase_id: str, now: datetime | None = None) -> int:
    """Revoke every license of a purchase (a refund); returns how many changed."""
    changing = events.affected(
        session,
        "license.revoked",
        License.purchase_id == purchase_id,
        License.status != LicenseStatus.REVOKED,
    )
    result = session.execute(
        update(License)
        .where(License.purchase_id == purchase_id, License.status != LicenseStatus.REVOKED)
        .values(status=LicenseStatus.REVOKED, revoked_at=now or utcnow())
        .execution_options(synchronize_session=False)
    )
    events.announce_each(session, "license.revoked", changing)
    return rowcount(result)


def suspend_for_purchase(session: Session, purchase_id: str, now: datetime | None = None) -> int:
    """Suspend the purchase's ACTIVE licenses (a dispute was opened); returns how many."""
    changing = events.affected(
        session,
        "license.suspended",
        License.purchase_id == purchase_id,
        License.status == LicenseStatus.ACTIVE,
    )
    result = session.execute(
        update(License)
        .where(License.purchase_id == purchase_id, License.status == LicenseStatus.ACTIVE)
        .values(status=LicenseStatus.SUSPENDED, suspended_at=now or utcnow())
        .execution_options(synchronize_session=False)
    )
    events.announce_each(session, "license.suspended", changing)
    return rowcount(result)


def reinstate_for_purchase(session: Session, purchase_id: str) -> int:
    """Make the purchase's SUSPENDED licenses ACTIVE again (a dispute was won)."""
    changing = events.affected(
        session,
        "license.reinstated",
        License.purchase_id == purchase_id,
        License.status == LicenseStatus.SUSPENDED,
    )
    result = session.execute(
        update(License)
        .where(License.purchase_id == purchase_id, License.status == LicenseStatus.SUSPENDED)
        .values(status=LicenseStatus.ACTIVE, suspended_at=None)
        .execution_options(synchronize_session=False)
    )
    events.announce_each(session, "license.reinstated", changing)
    return rowcount(result)


def extend_for_purchase(session: Session, purchase_id: str, until: datetime) -> int:
    """SUBSCRIPTION licenses of the purchase run to ``until`` (the end of the paid period).

    One that had expired is ACTIVE again; suspended and revoked ones keep their status.
    """
    result = session.execute(
        update(License)
        .where(
            License.purchase_id == purchase_id,
            License.license_type == LicenseType.SUBSCRIPTION,
            License.status.in_([LicenseStatus.ACTIVE, LicenseStatus.EXPIRED]),
        )
        .values(status=LicenseStatus.ACTIVE, expires_at=until, expired_at=None)
        .execution_options(synchronize_session=False)
    )
    return rowcount(result)


def end_for_purchase(session: Session, purchase_id: str, when: datetime) -> int:
    """SUBSCRIPTION licenses of the purchase end at ``when`` (the subscription was cancelled)."""
    ending = [
        License.purchase_id == purchase_id,
        License.license_type == LicenseType.SUBSCRIPTION,
        or_(License.expires_at.is_(None), License.expires_at > when),
    ]
    result = session.execute(
        update(License)
        .where(*ending)
        .values(expires_at=when)
        .execution_options(synchronize_session=False)
    )
    session.execute(
        update(License)
        .where(
            License.purchase_id == purchase_id,
            License.status == LicenseStatus.ACTIVE,
            License.expires_at.is_not(None),
            License.expires_at <= utcnow(),
        )
        .values(status=LicenseStatus.EXPIRED, expired_at=utcnow())
        .execution_options(synchronize_session=False)
    )
    return rowcount(result)
