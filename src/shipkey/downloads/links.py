"""Download links: issuing one, taking back the unused, listing a purchase's.

One link is one download (see :mod:`shipkey.downloads.counting`): its token is 256 random bits,
shown once and stored only as a hash. A link is counted when it is first used, not when issued.
"""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from shipkey.clock import utcnow
from shipkey.db.writes import rowcount
from shipkey.downloads.models import Download
from shipkey.errors import Conflict, Forbidden
from shipkey.ids import hash_token
from shipkey.orders.models import Purchase, PurchaseStatus

TOKEN_BYTES = 32  # 256 random bits
TOKEN_PATTERN = re.compile(r"^[A-Za-z0-9_-]{43}$")
"""What a token made of :data:`TOKEN_BYTES` looks like: anything else is no link of ours."""


@dataclass(frozen=True)
class IssuedLink:
    """A new link; ``token`` is the only copy of the secret and is shown once."""

    download: Download
    token: str
    url: str
    expires_at: datetime


def download_url(base_url: str, token: str) -> str:
    return f"{base_url}/api/download/{token}"


def ensure_downloadable(purchase: Purchase) -> None:
    """Why a purchase cannot get a new link (409; 403 ``UNDER_REVIEW`` while a risk event
    holds it), if it cannot."""
    if purchase.under_review_since is not None:
        raise Forbidden(
            "This purchase is under review; write to the seller's support address.",
            "UNDER_REVIEW",
        )
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
