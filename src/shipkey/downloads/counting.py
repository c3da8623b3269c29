"""Counting downloads: the first request on a link claims it and takes one download; later
resumes of the used link take bytes from its resume budget (the file's size in all).

The claim, the count and the budget are conditional UPDATEs (the counter and the check at
once), so N parallel requests with k downloads left give exactly k files, and parallel resumes
never send more than the budget. A purchase that cannot be downloaded says why with a 403.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import update
from sqlalchemy.orm import Session

from shipkey.db.writes import rowcount
from shipkey.downloads.models import Download
from shipkey.errors import Forbidden
from shipkey.http.net import Client
from shipkey.jobs import service as jobs
from shipkey.jobs.kinds import RISK_CHECK
from shipkey.orders.models import Purchase, PurchaseStatus


def refusal(purchase: Purchase) -> Forbidden | None:
    """Why the purchase's links serve nothing (403), if they do not."""
    if purchase.under_review_since is not None:
        return under_review()
    if purchase.status is PurchaseStatus.REFUNDED:
        return Forbidden("This purchase was refunded.", "PURCHASE_REFUNDED")
    if purchase.status is PurchaseStatus.DISPUTED:
        return Forbidden("This purchase is disputed.", "PURCHASE_DISPUTED")
    if purchase.status is not PurchaseStatus.COMPLETED:
        return Forbidden("This purchase is not completed.", "PURCHASE_NOT_COMPLETED")
    return None


def under_review() -> Forbidden:
    """The 403 of a purchase a risk event holds until the seller clears it."""
    return Forbidden(
        "This purchase is under review; write to the seller's support address.", "UNDER_REVIEW"
    )


def limit_reached(purchase: Purchase) -> Forbidden:
    """The 403 of a first request when the purchase has no download left."""
    return Forbidden(
        "All downloads of this purchase have been used.",
        "DOWNLOAD_LIMIT_REACHED",
        maxDownloads=purchase.max_downloads,
    )


def claim(session: Session, link: Download, client: Client, now: datetime) -> bool:
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
        raise refusal(link.purchase) or limit_reached(link.purchase)
    jobs.enqueue(session, RISK_CHECK, {"purchase_id": link.purchase_id})  # link sharing
    return True


def take_resume(session: Session, link: Download, length: int, size: int) -> bool:
    """Take ``length`` bytes from the used link's resume budget; False when they do not fit.

    One conditional UPDATE: the sum of the resumes served stays at most the file's ``size``
    under any number of parallel requests.
    """
    taken = session.execute(
        update(Download)
        .where(Download.id == link.id, Download.resumed_bytes + length <= size)
        .values(resumed_bytes=Download.resumed_bytes + length)
        .execution_options(synchronize_session=False)
    )
    return rowcount(taken) == 1
