"""Serving a download link: what a request gets, as a plan the response follows.

Until the link expires, a request whose Range starts after byte 0 resumes it without counting,
up to the file's size in resumed bytes in all; a new full request on a used link, or a resume
beyond that, gets 410 LINK_USED. HEAD answers while the link can still be used or resumed, and
a matching ``If-None-Match`` gets 304; neither counts. A stamped product's link serves the
buyer's personal copy (:mod:`shipkey.downloads.copies`), never the original.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session, joinedload

from shipkey.catalog.models import Product
from shipkey.clock import utcnow
from shipkey.db.engine import Database
from shipkey.downloads import copies
from shipkey.downloads.counting import claim, limit_reached, refusal, take_resume
from shipkey.downloads.links import TOKEN_PATTERN
from shipkey.downloads.models import Download
from shipkey.downloads.stamping import StampError
from shipkey.errors import Forbidden, Gone, NotFound, RangeNotSatisfiableError, ShipkeyError
from shipkey.http.files import (
    ByteRange,
    RangeNotSatisfiable,
    if_range_allows,
    make_etag,
    none_match,
    parse_range,
)
from shipkey.http.net import Client
from shipkey.ids import hash_token
from shipkey.orders.models import Purchase, PurchaseStatus
from shipkey.storage import ObjectNotFound, Storage

log = logging.getLogger(__name__)


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
    if_none_match: str | None = None


@dataclass(frozen=True)
class ServePlan:
    file: FileRef
    range: ByteRange | None
    counted: bool
    resumed: bool = False
    """A resume of a used link: its bytes were taken from the link's budget, so the app sends
    exactly them itself (no redirect or x-accel, where the client or nginx could get more)."""
    not_modified: bool = False

    @property
    def outcome(self) -> str:
        if self.not_modified:
            return "not_modified"
        return "counted" if self.counted else "resumed"


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

    Takes the database, not a session: it runs before the request's transaction, and before
    the request takes its writer's place (:func:`shipkey.http.deps.write`), in short sessions
    of its own, so no lock is held and no sale waits while the file is made. Anything wrong
    with the link is left for :func:`open_link`.
    """
    if not TOKEN_PATTERN.match(token):
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
    if not TOKEN_PATTERN.match(token):
        raise NotFound("This download link does not exist.", "LINK_NOT_FOUND")
    link = session.scalars(select(Download).where(Download.token_hash == hash_token(token))).first()
    if link is None:
        raise NotFound("This download link does not exist.", "LINK_NOT_FOUND")
    purchase = link.purchase
    refused = refusal(purchase)
    if refused is not None:
        raise refused
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
    if none_match(request.if_none_match, file.etag):
        return ServePlan(file, None, counted=False, not_modified=True)
    byte_range = effective_range(file, request, stored.etag)

    if link.downloaded_at is None:
        if head:
            if purchase.downloads_left <= 0:
                raise limit_reached(purchase)
            return ServePlan(file, byte_range, counted=False)
        if claim(session, link, client, now):
            return ServePlan(file, byte_range, counted=True)
    if head:
        if link.resumed_bytes < file.size:
            return ServePlan(file, byte_range, counted=False)
    elif (
        byte_range is not None
        and byte_range.start > 0
        and take_resume(session, link, byte_range.length, file.size)
    ):
        return ServePlan(file, byte_range, counted=False, resumed=True)
    raise Gone(
        "This link was already used. Resume with a Range request (up to the file's size in "
        "all), or get a new link.",
        "LINK_USED",
    )
