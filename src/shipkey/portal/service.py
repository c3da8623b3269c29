"""Portal rules: sign-in links, and what a signed-in buyer may see and do.

Sign-in links. The token is 256 random bits, shown once in the e-mail; only its SHA-256 is
stored. It is redeemed by one conditional UPDATE (``used_at IS NULL AND expires_at > now``), so
two clicks, even at the same instant, sign in once. Asking for a link answers the same whether
or not the address is known; a link is only written (and mailed) for a known buyer, or for
``SHIPKEY_ADMIN_EMAIL`` when the seller asks.

Ownership. Every purchase lookup is by id *and* the signed-in address: another buyer's purchase
is indistinguishable from one that does not exist (404).
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from limits import RateLimitItem, parse
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from shipkey.clock import utcnow
from shipkey.config import Settings
from shipkey.db.engine import Database
from shipkey.db.writes import rowcount
from shipkey.downloads import links as downloads
from shipkey.downloads.models import Download
from shipkey.errors import NotFound, TooManyRequests
from shipkey.fulfilment.access import IssuedAccess
from shipkey.http.net import Client, limit_key
from shipkey.http.throttle import Throttle
from shipkey.ids import hash_token, new_id
from shipkey.jobs import service as jobs
from shipkey.jobs.kinds import RISK_CHECK, SIGN_IN_KEY
from shipkey.licensing import seats, validation
from shipkey.licensing.models import License, LicenseActivation
from shipkey.licensing.signing_keys import SigningKeyStore
from shipkey.mail import service as mail
from shipkey.mail.service import LOGIN_LINK_MINUTES
from shipkey.orders.models import Customer, Purchase
from shipkey.portal.models import LoginPurpose, LoginToken
from shipkey.releases import service as releases
from shipkey.sales.queries import PurchaseDetail, purchase_detail

TOKEN_BYTES = 32
LINK_LIFETIME = timedelta(minutes=LOGIN_LINK_MINUTES)
MAX_EMAIL_LENGTH = 320


def normalise_email(raw: str) -> str | None:
    """The address lower-cased and trimmed, or None when it cannot be one."""
    email = raw.strip().lower()
    if not email or len(email) > MAX_EMAIL_LENGTH or any(c in email for c in "\r\n\t <>,;"):
        return None
    local, at, domain = email.rpartition("@")
    if not at or not local or "." not in domain or domain.startswith("."):
        return None
    return email


# --- rate limits ----------------------------------------------------------------------------


class LoginRateLimits:
    """Asking for sign-in links: per client IP (per /64 for IPv6:
    :func:`shipkey.http.net.limit_key`) and per address, counted where the license API's
    limits are (:mod:`shipkey.http.throttle`).

    10 a minute per IP stops a script from mailing many addresses (429); 5 an hour per address
    stops anyone from flooding one inbox. Over the per-address limit nothing is sent, but the
    answer stays the usual one: a 429 there would let a stranger lock a buyer (or the seller)
    out of signing in by asking for their links first. ``SHIPKEY_RATE_LIMITS=off`` turns both
    off.
    """

    def __init__(
        self,
        *,
        enabled: bool,
        per_ip: str = "10/minute",
        per_address: str = "5/hour",
        storage: str = "memory://",
    ) -> None:
        self.enabled = enabled
        self.per_ip: RateLimitItem = parse(per_ip)
        self.per_address: RateLimitItem = parse(per_address)
        self._throttle = Throttle(enabled=enabled, storage=storage)

    def hit(self, ip: str | None, email: str) -> bool:
        """Count one request: 429 ``RATE_LIMITED`` (with ``retryAfter``) when the client is over
        its limit; False (send nothing, answer as usual) when the address is over its own."""
        self._throttle.hit(self.per_ip, "login", "ip", limit_key(ip), "sign-in requests")
        try:
            self._throttle.hit(self.per_address, "login", "email", email, "sign-in requests")
        except TooManyRequests:
            return False
        return True

    def hit_failed_token(self, ip: str | None) -> None:
        """Count a wrong admin token from ``ip`` (10 a minute, then 429)."""
        self._throttle.hit(self.per_ip, "login", "token", limit_key(ip), "sign-in requests")


# --- sign-in links --------------------------------------------------------------------------


def login_url(settings: Settings, token: str) -> str:
    return f"{settings.base_url}/login/{token}"


def is_known_buyer(session: Session, email: str) -> bool:
    return session.scalar(select(Customer.id).where(Customer.email == email)) is not None


def create_login_token(
    session: Session,
    email: str,
    purpose: LoginPurpose,
    locale: str | None,
    now: datetime | None = None,
) -> str:
    """A new sign-in link's raw token (its hash is stored)."""
    now = now or utcnow()
    token = secrets.token_urlsafe(TOKEN_BYTES)
    session.add(
        LoginToken(
            id=new_id("lgn"),
            token_hash=hash_token(token),
            email=email,
            purpose=purpose,
            locale=locale,
            created_at=now,
            expires_at=now + LINK_LIFETIME,
        )
    )
    session.flush()
    return token


def request_buyer_link(session: Session, settings: Settings, raw_email: str, locale: str) -> bool:
    """Mail a sign-in link when the address belongs to a buyer; True when one was queued.

    The caller answers the same either way.
    """
    email = normalise_email(raw_email)
    if email is None or not is_known_buyer(session, email):
        return False
    token = create_login_token(session, email, LoginPurpose.BUYER, locale)
    mail.queue_login(session, settings, email, locale, login_url(settings, token))
    return True


def request_admin_link(session: Session, settings: Settings, raw_email: str, locale: str) -> bool:
    """Mail a seller sign-in link when the address is ``SHIPKEY_ADMIN_EMAIL``."""
    email = normalise_email(raw_email)
    admin = normalise_email(settings.admin_email or "")
    if email is None or admin is None or not secrets.compare_digest(email, admin):
        return False
    token = create_login_token(session, email, LoginPurpose.ADMIN, locale)
    mail.queue_login(session, settings, email, locale, login_url(settings, token))
    return True


@dataclass(frozen=True)
class SignIn:
    email: str
    purpose: LoginPurpose


def _well_formed(token: str) -> bool:
    return 20 <= len(token) <= 100 and all(c.isalnum() or c in "-_" for c in token)


def peek_login(session: Session, token: str, now: datetime | None = None) -> SignIn | None:
    """What an unused, unexpired link would sign in (nothing is changed)."""
    now = now or utcnow()
    if not _well_formed(token):
        return None
    row = session.scalars(
        select(LoginToken).where(LoginToken.token_hash == hash_token(token))
    ).first()
    if row is None or row.used_at is not None or row.expires_at <= now:
        return None
    return SignIn(row.email, row.purpose)


def redeem_login(
    session: Session, token: str, now: datetime | None = None, client: Client | None = None
) -> SignIn | None:
    """Use the link once, recording the address and user agent of ``client``; None when it is
    unknown, used or expired. A buyer's sign-in queues the sign-in sharing rule (a
    ``risk.check`` job: off the request, and sign-ins are rare)."""
    now = now or utcnow()
    if not _well_formed(token):
        return None
    token_hash = hash_token(token)
    client = client or Client()
    used = session.execute(
        update(LoginToken)
        .where(
            LoginToken.token_hash == token_hash,
            LoginToken.used_at.is_(None),
            LoginToken.expires_at > now,
        )
        .values(
            used_at=now,
            ip_address=client.ip[:64] if client.ip else None,
            user_agent=client.user_agent[:512] if client.user_agent else None,
        )
        .execution_options(synchronize_session=False)
    )
    if rowcount(used) != 1:
        return None
    row = session.scalars(select(LoginToken).where(LoginToken.token_hash == token_hash)).one()
    if row.purpose is LoginPurpose.BUYER:
        jobs.enqueue(session, RISK_CHECK, {SIGN_IN_KEY: row.email})
    return SignIn(row.email, row.purpose)


# --- the buyer's purchases ------------------------------------------------------------------


def list_purchases(session: Session, email: str) -> list[Purchase]:
    return list(
        session.scalars(
            select(Purchase)
            .where(Purchase.email == email)
            .order_by(Purchase.created_at.desc(), Purchase.id.desc())  # the address's index
            .limit(500)
        )
    )


def owned_purchase(session: Session, purchase_id: str, email: str) -> Purchase:
    """The purchase when it belongs to ``email``; 404 for anyone else (and for no purchase)."""
    purchase = session.get(Purchase, purchase_id) if len(purchase_id) <= 32 else None
    if (
        purchase is None
        or purchase.email is None
        or not secrets.compare_digest(purchase.email, email)
    ):
        raise NotFound("No such purchase.", "PURCHASE_NOT_FOUND")
    return purchase


@dataclass(frozen=True)
class LicenseView:
    license: License
    machines: list[LicenseActivation]


@dataclass(frozen=True)
class PurchaseView:
    purchase: Purchase
    downloads: list[Download]
    licenses: list[LicenseView]
    detail: PurchaseDetail

    @property
    def can_download(self) -> bool:
        try:
            downloads.ensure_downloadable(self.purchase)
        except Exception:
            return False
        return True


def purchase_view(session: Session, purchase: Purchase) -> PurchaseView:
    detail = purchase_detail(session, purchase, link_limit=10, machines=True)
    licenses = [LicenseView(lic, detail.machines[lic.id]) for lic in detail.licenses]
    return PurchaseView(purchase, detail.links, licenses, detail)


def new_download_link(
    session: Session, settings: Settings, purchase: Purchase
) -> downloads.IssuedLink:
    """A fresh link for the buyer (409 when none can be had: limit reached, refunded, …)."""
    return downloads.issue_link(session, purchase, settings.base_url)


def owned_license(session: Session, purchase: Purchase, license_id: str) -> License:
    lic = session.get(License, license_id) if len(license_id) <= 32 else None
    if lic is None or lic.purchase_id != purchase.id:
        raise NotFound("No such license.", "LICENSE_NOT_FOUND")
    return lic


def owned_activation(session: Session, lic: License, activation_id: str) -> LicenseActivation:
    activation = session.get(LicenseActivation, activation_id) if len(activation_id) <= 32 else None
    if activation is None or activation.license_id != lic.id or not activation.active:
        raise NotFound("No such machine.", "ACTIVATION_NOT_FOUND")
    return activation


def deactivate_machine(
    session: Session, settings: Settings, purchase: Purchase, license_id: str, activation_id: str
) -> LicenseActivation:
    """Free the seat of one of the buyer's machines."""
    lic = owned_license(session, purchase, license_id)
    activation = owned_activation(session, lic, activation_id)
    seats.deactivate(session, settings.license_key_secrets, lic.key, activation.machine_id)
    return activation


def machine_license_file(
    db: Database,
    signing_keys: SigningKeyStore,
    settings: Settings,
    email: str,
    purchase_id: str,
    license_id: str,
    activation_id: str,
) -> tuple[LicenseActivation, str]:
    """A freshly signed license file for one of the buyer's machines (the license must be
    usable: 403 when suspended, revoked or expired)."""
    with db.read_session() as session:
        purchase = owned_purchase(session, purchase_id, email)
        lic = owned_license(session, purchase, license_id)
        activation = owned_activation(session, lic, activation_id)
        key = lic.key
    renewed = validation.renew_file(
        db, signing_keys, settings.license_key_secrets, key, activation.machine_id
    )
    return activation, renewed.license_file


def access_links(settings: Settings, view: PurchaseView) -> list[IssuedAccess]:
    """The purchase's access links that still open (courses, memberships, subscriptions), from
    the grants its view read."""
    return view.detail.open_access(settings.secret, settings.base_url)


def license_offers(
    session: Session, settings: Settings, view: PurchaseView
) -> dict[str, list[releases.Offer]]:
    """Per license of the purchase, the versions it may download with links to their files."""
    return {
        item.license.id: releases.offers_for(
            session,
            item.license,
            settings.secret,
            settings.base_url,
            settings.release_link_seconds,
        )
        for item in view.licenses
    }
