"""Stateless signed URLs: a file behind an HMAC of its key and an expiry (previews, samples,
support hand-outs), checked in constant time and never counted."""

from __future__ import annotations

import hashlib
import hmac
import re
from datetime import datetime, timedelta
from urllib.parse import quote

from sqlalchemy import select
from sqlalchemy.orm import Session

from shipkey.catalog.models import Product
from shipkey.clock import utcnow
from shipkey.downloads.serving import FileRef, RangeRequest, ServePlan, effective_range
from shipkey.errors import Conflict, Forbidden, Gone, NotFound
from shipkey.http.files import none_match
from shipkey.storage import Storage

_SIG_PATTERN = re.compile(r"[0-9a-f]{64}")
_EXPIRES_PATTERN = re.compile(r"[0-9]{1,12}")
"""ASCII digits only: ``str.isdigit()`` also takes "²" (which ``int()`` refuses) and "٣"."""
MAX_SIGNED_URL_SECONDS = 90 * 24 * 3600


def _signature(secret: bytes, file_key: str, expires: int) -> str:
    message = f"{file_key}\n{expires}".encode()
    return hmac.new(secret, message, hashlib.sha256).hexdigest()


def sign(secret: bytes, file_key: str, expires_at: datetime) -> tuple[int, str]:
    """The expiry (a Unix time) and signature of a link to ``file_key`` valid until then."""
    expires = int(expires_at.timestamp())
    return expires, _signature(secret, file_key, expires)


def signed_url(secret: bytes, base_url: str, file_key: str, expires_at: datetime) -> str:
    expires = int(expires_at.timestamp())
    sig = _signature(secret, file_key, expires)
    return f"{base_url}/api/signed/{quote(file_key, safe='/')}?expires={expires}&sig={sig}"


def check_signature(
    secret: bytes, file_key: str, expires: str | None, sig: str | None, now: datetime
) -> None:
    """403 INVALID_SIGNATURE unless the signature is ours; then 410 LINK_EXPIRED if it is old."""
    invalid = Forbidden("The link's signature is not valid.", "INVALID_SIGNATURE")
    if not expires or not sig or _EXPIRES_PATTERN.fullmatch(expires) is None:
        raise invalid
    if _SIG_PATTERN.fullmatch(sig) is None:
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
    if none_match(request.if_none_match, file.etag):
        return ServePlan(file, None, counted=False, not_modified=True)
    return ServePlan(file, effective_range(file, request, stored.etag), counted=False)


def make_signed_url(
    session: Session, secret: bytes, base_url: str, product: Product, expires_in: int
) -> tuple[str, datetime]:
    if product.file_key is None:
        raise Conflict("This product has no file to link to.", "NO_FILE")
    expires_at = utcnow().replace(microsecond=0) + timedelta(seconds=expires_in)
    return signed_url(secret, base_url, product.file_key, expires_at), expires_at
