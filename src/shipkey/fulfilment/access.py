"""Access grants: issuing them on fulfilment, checking them, extending and ending them.

The access link is ``<base URL>/access/<token>``. It leads to the seller's content (the
product's ``metadata.accessUrl``, with ``?access=<token>`` so that site can check the token at
``GET /api/access/<token>``), or to a page that shows the access when no URL is set.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal
from urllib.parse import urlencode, urlsplit

from sqlalchemy import or_, select, update
from sqlalchemy.orm import Session

from shipkey.catalog.models import Product, ProductType
from shipkey.clock import utcnow
from shipkey.db.writes import insert_ignore, rowcount
from shipkey.errors import NotFound
from shipkey.fulfilment.models import AccessGrant, AccessKind
from shipkey.hooks import emit, listeners
from shipkey.ids import hash_token, new_id
from shipkey.orders.models import Purchase, PurchaseStatus

DEFAULT_DAYS = {AccessKind.MEMBERSHIP: 365, AccessKind.SUBSCRIPTION: 365}
"""How long access lasts when neither a paid period nor the product says (COURSE: for good)."""
_TOKEN_PATTERN = re.compile(r"^[A-Za-z0-9_-]{43}$")

AccessCode = Literal["VALID", "REVOKED", "EXPIRED", "SUSPENDED", "NOT_PAID"]


def kind_for(product: Product) -> AccessKind | None:
    """The access a product gives; DOWNLOAD and LICENSE products give none."""
    if product.type is ProductType.COURSE:
        return AccessKind.COURSE
    if product.type is ProductType.MEMBERSHIP:
        return AccessKind.MEMBERSHIP
    if product.type is ProductType.SUBSCRIPTION:
        return AccessKind.SUBSCRIPTION
    return None


def token_for(secret: bytes, grant_id: str) -> str:
    digest = hmac.new(secret, f"access/{grant_id}".encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def access_url(base_url: str, token: str) -> str:
    return f"{base_url}/access/{token}"


def content_url(product: Product) -> str | None:
    """The seller's content behind the access link (``metadata.accessUrl``, http or https)."""
    value = product.meta.get("accessUrl")
    if not isinstance(value, str) or urlsplit(value).scheme not in ("http", "https"):
        return None
    return value


def expiry_for(purchase: Purchase, kind: AccessKind, now: datetime) -> datetime | None:
    """A paid subscription period wins; then ``metadata.accessDays`` or the product's
    ``licenseDays``; then the defaults (a course is for good)."""
    if purchase.paid_until is not None:
        return purchase.paid_until
    product = purchase.product
    days = product.meta.get("accessDays")
    if isinstance(days, int) and not isinstance(days, bool) and days > 0:
        return now + timedelta(days=days)
    if kind is not AccessKind.COURSE and product.license_days:
        return now + timedelta(days=product.license_days)
    default = DEFAULT_DAYS.get(kind)
    return now + timedelta(days=default) if default else None


@dataclass(frozen=True)
class IssuedAccess:
    grant: AccessGrant
    title: str
    url: str


def describe(secret: bytes, base_url: str, grant: AccessGrant) -> IssuedAccess:
    """The grant as the delivery e-mail shows it (title and link)."""
    return IssuedAccess(
        grant, grant.purchase.product.name, access_url(base_url, token_for(secret, grant.id))
    )


def grant_for_purchase(
    session: Session, secret: bytes, base_url: str, purchase: Purchase, now: datetime
) -> IssuedAccess | None:
    """The purchase's access grant, made once (one per purchase); None for products without."""
    kind = kind_for(purchase.product)
    if kind is None:
        return None
    grant_id = new_id("acc")
    granted = insert_ignore(
        session,
        AccessGrant,
        {
            "id": grant_id,
            "purchase_id": purchase.id,
            "kind": kind,
            "token_hash": hash_token(token_for(secret, grant_id)),
            "created_at": now,
            "expires_at": expiry_for(purchase, kind, now),
        },
    )
    grant = session.scalars(select(AccessGrant).where(AccessGrant.purchase_id == purchase.id)).one()
    if granted:
        emit(session, "access.granted", lambda: grant_data(grant))
    return describe(secret, base_url, grant)


def grant_data(grant: AccessGrant) -> dict[str, object]:
    """An access grant for the seller's systems (its token is never shown: it is the access)."""
    product = grant.purchase.product
    return {
        "id": grant.id,
        "purchaseId": grant.purchase_id,
        "email": grant.purchase.email,
        "kind": grant.kind.value,
        "product": product.slug,
        "courseSlug": (product.meta or {}).get("courseSlug"),
        "createdAt": _iso(grant.created_at),
        "expiresAt": _iso(grant.expires_at),
        "revokedAt": _iso(grant.revoked_at),
    }


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat().replace("+00:00", "Z") if moment is not None else None


def list_for_purchase(session: Session, purchase_id: str) -> list[AccessGrant]:
    return list(session.scalars(select(AccessGrant).where(AccessGrant.purchase_id == purchase_id)))


def revoke_for_purchase(session: Session, purchase_id: str, now: datetime) -> int:
    result = session.execute(
        update(AccessGrant)
        .where(AccessGrant.purchase_id == purchase_id, AccessGrant.revoked_at.is_(None))
        .values(revoked_at=now)
        .execution_options(synchronize_session=False)
    )
    changed = rowcount(result)
    if changed and listeners(session, "access.revoked"):
        for grant in session.scalars(
            select(AccessGrant)
            .where(AccessGrant.purchase_id == purchase_id)
            .execution_options(populate_existing=True)
        ):
            emit(session, "access.revoked", grant_data(grant))
    return changed


def extend_for_purchase(session: Session, purchase_id: str, until: datetime) -> int:
    """Access runs to ``until`` (the end of the paid subscription period)."""
    result = session.execute(
        update(AccessGrant)
        .where(AccessGrant.purchase_id == purchase_id, AccessGrant.revoked_at.is_(None))
        .values(expires_at=until)
        .execution_options(synchronize_session=False)
    )
    return rowcount(result)


def end_for_purchase(session: Session, purchase_id: str, when: datetime) -> int:
    """Access ends at ``when`` (a cancelled subscription), unless it ended earlier."""
    result = session.execute(
        update(AccessGrant)
        .where(
            AccessGrant.purchase_id == purchase_id,
            or_(AccessGrant.expires_at.is_(None), AccessGrant.expires_at > when),
        )
        .values(expires_at=when)
        .execution_options(synchronize_session=False)
    )
    return rowcount(result)


# --- checking -------------------------------------------------------------------------------


@dataclass(frozen=True)
class AccessCheck:
    grant: AccessGrant
    code: AccessCode
    token: str

    @property
    def valid(self) -> bool:
        return self.code == "VALID"


def status_of(grant: AccessGrant, now: datetime) -> AccessCode:
    if grant.revoked_at is not None or grant.purchase.status is PurchaseStatus.REFUNDED:
        return "REVOKED"
    if grant.purchase.status is PurchaseStatus.DISPUTED:
        return "SUSPENDED"
    if grant.purchase.status is not PurchaseStatus.COMPLETED:
        return "NOT_PAID"
    if grant.is_expired(now):
        return "EXPIRED"
    return "VALID"


def check(session: Session, token: str, now: datetime | None = None) -> AccessCheck:
    """What an access token gives now; 404 ``ACCESS_NOT_FOUND`` for an unknown token."""
    grant = None
    if _TOKEN_PATTERN.match(token):
        grant = session.scalars(
            select(AccessGrant).where(AccessGrant.token_hash == hash_token(token))
        ).first()
    if grant is None:
        raise NotFound("This access link does not exist.", "ACCESS_NOT_FOUND")
    return AccessCheck(grant, status_of(grant, now or utcnow()), token)


def redirect_target(result: AccessCheck) -> str | None:
    """Where a valid access link sends the buyer (None: shipkey's own page)."""
    if not result.valid:
        return None
    url = content_url(result.grant.purchase.product)
    if url is None:
        return None
    separator = "&" if urlsplit(url).query else "?"
    return f"{url}{separator}{urlencode({'access': result.token})}"
