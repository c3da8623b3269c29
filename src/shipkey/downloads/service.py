"""Download rules: issuing links, counting downloads atomically, signed URLs.

One link is one download. The first request on a link claims it and takes one of the purchase's
downloads in a single conditional UPDATE (the counter and the check at once), so N parallel
requests with k downloads left give exactly k files. Until the link expires, a request whose
Range starts after byte 0 resumes it without counting; a new full request gets 410 LINK_USED.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import re
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from urllib.parse import quote

from sqlalchemy import select, update
from sqlalchemy.orm import Session, joinedload

from shipkey.catalog.models import Product
from shipkey.clock import utcnow
from shipkey.db.engine import Database
from shipkey.db.writes import rowcount
from shipkey.downloads import copies
from shipkey.downloads.models import Download
from shipkey.downloads.stamping import StampError
from shipkey.errors import (
    Conflict,
    Forbidden,
    Gone,
    NotFound,
    RangeNotSatisfiableError,
    ShipkeyError,
)
from shipkey.http.files import (
    ByteRange,
    RangeNotSatisfiable,
    if_range_allows,
    make_etag,
    parse_range,
)
from shipkey.http.net import Client
from shipkey.ids import hash_token
from shipkey.orders.models import Purchase, PurchaseStatus
from shipkey.storage import ObjectNotFound, Storage

log = logging.getLogger(__name__)

TOKEN_BYTES = 32  # 256 random bits
_TOKEN_PATTERN = re.compile(r"^[A-Za-z0-9_-]{43}$")
_SIG_PATTERN = re.compile(r"^[0-9a-f]{64}$")
MAX_SIGNED_URL_SECONDS = 90 * 24 * 3600


@dataclass(frozen=True)
class IssuedLink:
    """A new link; ``token`` is the only copy of the secret and is shown once."""

    download: Download
    token: str
    url: str
    expires_at: datetime


@dataclass(frozen=True)
class FileRef:
    """What is served: a stored object and how the buyer sees it."""

    key: str
    name: str
    mime_type: str
    size: int
    sha256: str
    uploaded_at: datetime

    @property
    def etag(self) -> str:
        return make_etag(self.sha256)

    @classmethod
    def of(cls, product: Product) -> FileRef:
        if (
            product.file_key is None
            or product.file_name is None
            or product.file_size is None
            or product.file_sha256 is None
            or product.file_uploaded_at is None
        ):
            raise NotFound("This product has no file to download.", "FILE_NOT_FOUND")
        return cls(
            key=product.file_key,
            name=product.file_name,
            mime_type=product.file_mime_type or "application/octet-stream",
            size=product.file_size,
            sha256=product.file_sha256,
            uploaded_at=product.file_uploaded_at,
        )


@dataclass(frozen=True)
class RangeRequest:
    """The parts of a request that decide what is served."""

    range: str | None = None
    if_range: str | None = None


@dataclass(frozen=True)
class ServePlan:
    file: FileRef
    range: ByteRange | None
    counted: bool


def download_url(base_url: str, token: str) -> str:
    return f"{base_url}/api/download/{token}"


# --- issuing --------------------------------------------------------------------------------


def ensure_downloadable(purchase: Purchase) -> None:
    """Why a purchase cannot get a new link (409), if it cannot."""
    if purchase.status is not PurchaseStatus.COMPLETED:
        raise Conflict(
            f"The purchase is {purchase.status.value}, not COMPLETED.", "PURCHASE_NOT_COMPLETED"
        )
    if not purchase.product.has_file:
        raise Conflict("This product has no file to download.", "NO_FILE")
    if purchase.downloads_left <= 0:
        raise Conflict(
            "All downloads of this purchase have been used.",
            "DOWNLOAD_LIMIT_REACHED",
            maxDownloads=purchase.max_downloads,
            downloadCount=purchase.download_count,
        )


def issue_link(
    session: Session, purchase: Purchase, base_url: str, now: datetime | None = None
) -> IssuedLink:
    """A new download link for the purchase (the download is counted when it is first used)."""
    ensure_downloadable(purchase)
    now = now or utcnow()
    token = secrets.token_urlsafe(TOKEN_BYTES)
    link = Download(
        purchase_id=purchase.id,
        token_hash=hash_token(token),
        created_at=now,
        expires_at=now + timedelta(hours=purchase.product.link_ttl_hours),
    )
    session.add(link)
    session.flush()
    return IssuedLink(link, token, download_url(base_url, token), link.expires_at)


def end_unused_links(session: Session, purchase_id: str, now: datetime | None = None) -> int:
    """Revoke every link of the purchase that was never used; returns how many."""
    result = session.execute(
        update(Download)
        .where(
            Download.purchase_id == purchase_id,
            Download.downloaded_at.is_(None),
            Download.revoked_at.is_(None),
        )
        .values(revoked_at=now or utcnow())
        .execution_options(synchronize_session=False)
    )
    return rowcount(result)


def list_links(session: Session, purchase_id: str, limit: int = 100) -> list[Download]:
    return list(
        session.scalars(
            select(Download)
            .where(Download.purchase_id == purchase_id)
            .order_by(Download.created_at.desc(), Download.id)
            .limit(limit)
        )
    )


# --- serving --------------------------------------------------------------------------------


def _refusal(purchase: Purchase) -> Forbidden | None:
    if purchase.status is PurchaseStatus.REFUNDED:
        return Forbidden("This purchase was refunded.", "PURCHASE_REFUNDED")
    if purchase.status is PurchaseStatus.DISPUTED:
        return Forbidden("This purchase is disputed.", "PURCHASE_DISPUTED")
    if purchase.status is not PurchaseStatus.COMPLETED:
        return Forbidden("This purchase is not completed.", "PURCHASE_NOT_COMPLETED")
    return None


def _limit_reached(purchase: Purchase) -> Forbidden:
    return Forbidden(
        "All downloads of this purchase have been used.",
        "DOWNLOAD_LIMIT_REACHED",
        maxDownloads=purchase.max_downloads,
    )


def effective_range(
    file: FileRef, request: RangeRequest, backend_etag: str | None = None
) -> ByteRange | None:
    """The byte range to serve (None: the whole file); 416 when it cannot be satisfied.

    ``If-Range`` may name our ETag or, in ``redirect`` mode where the buyer got the bytes from
    S3, the backend's ETag of the same object.
    """
    if request.range is None:
        return None
    if not if_range_allows(request.if_range, file.etag, file.uploaded_at) and not (
        backend_etag is not None
        and request.if_range is not None
        and request.if_range.strip() == backend_etag
    ):
        return None
    try:
        return parse_range(request.range, file.size)
    except RangeNotSatisfiable as exc:
        raise RangeNotSatisfiableError(
            "The requested range is outside the file.",
            headers={"Content-Range": f"bytes */{file.size}"},
        ) from exc


def _claim(session: Session, link: Download, client: Client, now: datetime) -> bool:
    """Mark the link used and take one download; False when another request claimed it first.

    Both are conditional UPDATEs; if the purchase has no download left the error rolls the
    claim back with the rest of the unit of work.
    """
    claimed = session.execute(
        update(Download)
        .where(Download.id == link.id, Download.downloaded_at.is_(None))
        .values(
            downloaded_at=now,
            ip_address=client.ip[:64] if client.ip else None,
            user_agent=client.user_agent[:512] if client.user_agent else None,
        )
        .execution_options(synchronize_session=False)
    )
    if rowcount(claimed) != 1:
        return False
    counted = session.execute(
        update(Purchase)
        .where(
            Purchase.id == link.purchase_id,
            Purchase.status == PurchaseStatus.COMPLETED,
            Purchase.download_count < Purchase.max_downloads,
        )
        .values(download_count=Purchase.download_count + 1)
        .execution_options(synchronize_session=False)
    )
    if rowcount(counted) != 1:
        session.refresh(link.purchase)
        raise _refusal(link.purchase) or _limit_reached(link.purchase)
    return True


def _stamped_file(session: Session, storage: Storage, purchase: Purchase, file: FileRef) -> FileRef:
    """The buyer's personal copy in place of the product's file; never the original."""
    copy = copies.ready_copy(session, storage, purchase)
    if copy is None:
        if not storage.exists(file.key):
            raise NotFound("The file is missing from storage; the seller was told.", "FILE_MISSING")
        raise ShipkeyError(
            "Your personal copy is being made. Try again in a moment.",
            "COPY_NOT_READY",
            status_code=503,
            headers={"Retry-After": "5"},
        )
    return FileRef(
        key=copy.key,
        name=file.name,
        mime_type=file.mime_type,
        size=copy.size,
        sha256=copy.sha256,
        uploaded_at=copy.created_at,
    )


def prepare_copy(db: Database, storage: Storage, token: str) -> None:
    """Build the buyer's stamped copy before serving a link, if the worker has not yet.

    Runs before the request's own transaction, in short sessions of its own, so no lock is
    held while the file is made. Anything wrong with the link is left for :func:`open_link`.
    """
    if not _TOKEN_PATTERN.match(token):
        return
    with db.read_session() as session:
        # One query on the hot path: the purchase and its product, found through the link.
        purchase = session.scalars(
            select(Purchase)
            .join(Download, Download.purchase_id == Purchase.id)
            .where(Download.token_hash == hash_token(token))
            .options(joinedload(Purchase.product))
        ).first()
        if (
            purchase is None
            or purchase.status is not PurchaseStatus.COMPLETED
            or copies.stamp_kind(purchase.product) is None
        ):
            return
        purchase_id = purchase.id
    try:
        copies.ensure_stamped(db, storage, purchase_id)
    except ObjectNotFound:
        return  # the original is gone: open_link answers FILE_MISSING
    except StampError as exc:
        log.error("cannot stamp the file of purchase %s: %s", purchase_id, exc)
        raise ShipkeyError(
            "This file cannot be personalised for you; please contact the seller.",
            "STAMPING_FAILED",
            status_code=503,
        ) from exc


def open_link(
    session: Session,
    storage: Storage,
    token: str,
    request: RangeRequest,
    client: Client,
    *,
    head: bool = False,
    now: datetime | None = None,
) -> ServePlan:
    """Decide what a request on a download link gets, counting it when it is the first."""
    if not _TOKEN_PATTERN.match(token):
        raise NotFound("This download link does not exist.", "LINK_NOT_FOUND")
    link = session.scalars(select(Download).where(Download.token_hash == hash_token(token))).first()
    if link is None:
        raise NotFound("This download link does not exist.", "LINK_NOT_FOUND")
    purchase = link.purchase
    refusal = _refusal(purchase)
    if refusal is not None:
        raise refusal
    if link.revoked_at is not None:
        raise Forbidden("This download link was revoked.", "LINK_REVOKED")
    now = now or utcnow()
    if link.expires_at <= now:
        raise Gone("This download link has expired.", "LINK_EXPIRED")
    file = FileRef.of(purchase.product)
    if copies.stamp_kind(purchase.product) is not None:
        file = _stamped_file(session, storage, purchase, file)
    stored = storage.head(file.key)
    if stored is None:
        raise NotFound("The file is missing from storage; the seller was told.", "FILE_MISSING")
    byte_range = effective_range(file, request, stored.etag)
    resume = byte_range is not None and byte_range.start > 0

    if link.downloaded_at is None:
        if head:
            if purchase.downloads_left <= 0:
                raise _limit_reached(purchase)
            return ServePlan(file, byte_range, counted=False)
        if _claim(session, link, client, now):
            return ServePlan(file, byte_range, counted=True)
    if resume:
        return ServePlan(file, byte_range, counted=False)
    raise Gone(
        "This link was already used. Resume with a Range request, or get a new link.", "LINK_USED"
    )


# --- stateless signed URLs ------------------------------------------------------------------


def _signature(secret: bytes, file_key: str, expires: int) -> str:
    message = f"{file_key}\n{expires}".encode()
    return hmac.new(secret, message, hashlib.sha256).hexdigest()


def signed_url(secret: bytes, base_url: str, file_key: str, expires_at: datetime) -> str:
    expires = int(expires_at.timestamp())
    sig = _signature(secret, file_key, expires)
    return f"{base_url}/api/signed/{quote(file_key, safe='/')}?expires={expires}&sig={sig}"


def check_signature(
    secret: bytes, file_key: str, expires: str | None, sig: str | None, now: datetime
) -> None:
    """403 INVALID_SIGNATURE unless the signature is ours; then 410 LINK_EXPIRED if it is old."""
    invalid = Forbidden("The link's signature is not valid.", "INVALID_SIGNATURE")
    if not expires or not sig or len(expires) > 12 or not expires.isdigit():
        raise invalid
    if not _SIG_PATTERN.match(sig):
        raise invalid
    expected = _signature(secret, file_key, int(expires))
    if not hmac.compare_digest(expected, sig):
        raise invalid
    if int(expires) <= int(now.timestamp()):
        raise Gone("This link has expired.", "LINK_EXPIRED")


def product_for_file(session: Session, file_key: str) -> Product:
    product = session.scalars(select(Product).where(Product.file_key == file_key)).first()
    if product is None:
        raise NotFound("This file no longer exists.", "FILE_NOT_FOUND")
    return product


def open_signed(
    session: Session,
    storage: Storage,
    secret: bytes,
    file_key: str,
    expires: str | None,
    sig: str | None,
    request: RangeRequest,
    now: datetime | None = None,
) -> ServePlan:
    check_signature(secret, file_key, expires, sig, now or utcnow())
    file = FileRef.of(product_for_file(session, file_key))
    stored = storage.head(file.key)
    if stored is None:
        raise NotFound("The file is missing from storage.", "FILE_MISSING")
    return ServePlan(file, effective_range(file, request, stored.etag), counted=False)


def make_signed_url(
    session: Session, secret: bytes, base_url: str, product: Product, expires_in: int
) -> tuple[str, datetime]:
    if product.file_key is None:
        raise Conflict("This product has no file to link to.", "NO_FILE")
    expires_at = utcnow().replace(microsecond=0) + timedelta(seconds=expires_in)
    return signed_url(secret, base_url, product.file_key, expires_at), expires_at
