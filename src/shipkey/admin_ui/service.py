"""Rules behind the seller's pages: sign-in, the dashboard's numbers, searches, and the few
changes to a purchase the other services do not make (download counts, resending)."""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import func, or_, select, update
from sqlalchemy.orm import Session, defer

from shipkey.admin import service as tokens
from shipkey.admin_ui.actions import ensure_open
from shipkey.clock import utcnow
from shipkey.config import Settings
from shipkey.db.paging import Page, encode_cursor, page
from shipkey.db.types import utc_day
from shipkey.downloads.models import Download
from shipkey.errors import BadRequest
from shipkey.licensing.models import License
from shipkey.mail.models import MailKind, MailMessage, MailStatus
from shipkey.orders.models import Customer, Purchase, PurchaseStatus
from shipkey.payments.models import WebhookEvent
from shipkey.sales import delivery

MAX_EXTRA_DOWNLOADS = 1000


# --- signing in -----------------------------------------------------------------------------


def admin_name_for_token(
    session: Session, settings: Settings, raw: str
) -> tuple[str, str | None] | None:
    """The name the seller signs in as with this admin token and the stored token's id (None
    for ``SHIPKEY_ADMIN_TOKEN``), or None when it is not valid."""
    raw = raw.strip()
    if not raw or len(raw) > 256:
        return None
    configured = settings.admin_token.get_secret_value() if settings.admin_token else None
    if tokens.matches_static(raw, configured):
        return "SHIPKEY_ADMIN_TOKEN", None
    token = tokens.find_token(session, raw)
    if token is None:
        return None
    tokens.touch(session, token.id)
    return token.name or token.id, token.id


# --- the dashboard --------------------------------------------------------------------------


@dataclass(frozen=True)
class Series:
    points: list[tuple[date, float]]

    @property
    def total(self) -> float:
        return sum(value for _, value in self.points)


@dataclass(frozen=True)
class Dashboard:
    days: int
    sales: Series
    revenue: dict[str, int]
    revenue_series: Series
    revenue_currency: str | None
    deliveries: Series
    downloads: Series
    failed_mail: int
    pending_mail: int
    purchases_total: int
    refunded: int


def _days(since: date, count: int) -> list[date]:
    return [since + timedelta(days=i) for i in range(count)]


def _series(days: list[date], totals: dict[str, float]) -> Series:
    return Series([(day, totals.get(day.isoformat(), 0)) for day in days])


def _per_day(session: Session, stamp: Any, *where: Any) -> dict[str, float]:
    """Rows per UTC day (``YYYY-MM-DD``), counted by the database."""
    day = utc_day(stamp)
    rows = session.execute(select(day, func.count()).where(*where).group_by(day))
    return {str(key): float(count) for key, count in rows}


def dashboard(session: Session, days: int = 30, now: datetime | None = None) -> Dashboard:
    """Sales, revenue, deliveries and downloads per day over the last ``days`` days (UTC).

    Every number is counted by the database (GROUP BY the UTC day) from an index that holds
    the columns it needs, so the page reads index entries, never the rows themselves."""
    now = now or utcnow()
    first = (now - timedelta(days=days - 1)).date()
    start = datetime(first.year, first.month, first.day, tzinfo=now.tzinfo)
    day_list = _days(first, days)
    sold_day = utc_day(Purchase.completed_at)
    sold = session.execute(
        select(sold_day, Purchase.currency, func.count(), func.sum(Purchase.amount))
        .where(
            Purchase.completed_at >= start,
            Purchase.status.in_(
                [PurchaseStatus.COMPLETED, PurchaseStatus.REFUNDED, PurchaseStatus.DISPUTED]
            ),
        )
        .group_by(sold_day, Purchase.currency)
    ).all()
    revenue: Counter[str] = Counter()
    sales: dict[str, float] = defaultdict(float)
    for _day, currency, _count, amount in sold:
        revenue[currency] += int(amount or 0)
    main_currency = revenue.most_common(1)[0][0] if revenue else None
    money: dict[str, float] = defaultdict(float)
    for day, currency, count, amount in sold:
        sales[str(day)] += count
        if currency == main_currency:
            money[str(day)] += int(amount or 0) / 100
    delivered = _per_day(
        session,
        MailMessage.sent_at,
        MailMessage.kind == MailKind.DELIVERY,
        MailMessage.status == MailStatus.SENT,
        MailMessage.sent_at >= start,
    )
    fetched = _per_day(session, Download.downloaded_at, Download.downloaded_at >= start)
    by_status: dict[MailStatus, int] = {
        status: int(count)
        for status, count in session.execute(
            select(MailMessage.status, func.count())
            .where(MailMessage.status != MailStatus.SENT)
            .group_by(MailMessage.status)
        )
    }
    purchases_total = session.scalar(select(func.count()).select_from(Purchase)) or 0
    refunded = (
        session.scalar(
            select(func.count())
            .select_from(Purchase)
            .where(Purchase.status == PurchaseStatus.REFUNDED)
        )
        or 0
    )
    return Dashboard(
        days=days,
        sales=_series(day_list, sales),
        revenue=dict(revenue),
        revenue_series=_series(day_list, money),
        revenue_currency=main_currency,
        deliveries=_series(day_list, delivered),
        downloads=_series(day_list, fetched),
        failed_mail=int(by_status.get(MailStatus.FAILED, 0)),
        pending_mail=int(by_status.get(MailStatus.PENDING, 0)),
        purchases_total=int(purchases_total),
        refunded=int(refunded),
    )


# --- purchases ------------------------------------------------------------------------------


PAGE_SIZE = 50
"""Rows on one page of a seller's list; the next ones are behind its "Older" link."""


def _like(query: str) -> str:
    """A ``LIKE`` pattern that matches ``query`` anywhere (its wildcards taken literally)."""
    return "%" + query.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"


def search_purchases(
    session: Session, query: str = "", cursor: str | None = None, limit: int = PAGE_SIZE
) -> Page[Purchase]:
    """Newest first, a page at a time; ``query`` matches part of the buyer's e-mail, or a
    purchase id. On PostgreSQL a trigram index answers the match anywhere in the address."""
    statement = select(Purchase)
    query = query.strip().lower()[:320]
    if query:
        statement = statement.where(
            or_(Purchase.email.like(_like(query), escape="\\"), Purchase.id == query)
        )
    return page(
        session,
        statement,
        created_at=Purchase.created_at,
        row_id=Purchase.id,
        limit=limit,
        cursor=cursor,
    )


def reset_download_count(session: Session, purchase: Purchase) -> Purchase:
    """Give the buyer every download of the purchase again (409 once its downloads are over)."""
    ensure_open(purchase)
    session.execute(
        update(Purchase)
        .where(Purchase.id == purchase.id)
        .values(download_count=0)
        .execution_options(synchronize_session=False)
    )
    session.refresh(purchase)
    return purchase


def add_downloads(session: Session, purchase: Purchase, extra: int) -> Purchase:
    """Raise the purchase's download limit by ``extra`` (1 to 1000; 409 once its downloads are
    over)."""
    ensure_open(purchase)
    if not 1 <= extra <= MAX_EXTRA_DOWNLOADS:
        raise BadRequest(
            f"Add between 1 and {MAX_EXTRA_DOWNLOADS} downloads.", "INVALID_DOWNLOAD_COUNT"
        )
    session.execute(
        update(Purchase)
        .where(Purchase.id == purchase.id)
        .values(max_downloads=Purchase.max_downloads + extra)
        .execution_options(synchronize_session=False)
    )
    session.refresh(purchase)
    return purchase


def resend_delivery(session: Session, settings: Settings, purchase: Purchase) -> MailMessage:
    """The delivery e-mail again (the same rule as ``POST /api/admin/purchases/{id}/resend``)."""
    return delivery.resend(session, settings, purchase)


def messages_for(session: Session, purchase_id: str) -> list[MailMessage]:
    return list(
        session.scalars(
            select(MailMessage)
            .where(MailMessage.purchase_id == purchase_id)
            .order_by(MailMessage.created_at.desc())
            .limit(50)
        )
    )


# --- licenses -------------------------------------------------------------------------------


def search_licenses(
    session: Session, query: str = "", cursor: str | None = None, limit: int = PAGE_SIZE
) -> Page[License]:
    """Newest first, a page at a time; ``query`` matches part of a key, or of the buyer's
    e-mail.

    The two matches are two keyset queries merged here: each can use its own index (the key's
    trigrams; the buyer's address, then the licenses of those buyers), where one query with
    ``OR`` would read every license to test the second half."""
    listing = select(License)
    query = query.strip()[:320]
    if not query:
        return page(
            session,
            listing,
            created_at=License.created_at,
            row_id=License.id,
            limit=limit,
            cursor=cursor,
        )
    customers = select(Customer.id).where(Customer.email.like(_like(query.lower()), escape="\\"))
    halves = [
        page(
            session,
            listing.where(condition),
            created_at=License.created_at,
            row_id=License.id,
            limit=limit,
            cursor=cursor,
        )
        for condition in (
            License.key.like(_like(query.upper()), escape="\\"),
            License.customer_id.in_(customers),
        )
    ]
    merged = {lic.id: lic for half in halves for lic in half.items}
    newest = sorted(merged.values(), key=lambda lic: (lic.created_at, lic.id), reverse=True)
    more = len(newest) > limit or any(half.next_cursor for half in halves)
    items = newest[:limit]
    last = items[-1] if items else None
    return Page(items, encode_cursor(last.created_at, last.id) if more and last else None)


def customer_emails(session: Session, customer_ids: Sequence[str]) -> dict[str, str]:
    if not customer_ids:
        return {}
    rows = session.execute(
        select(Customer.id, Customer.email).where(Customer.id.in_(set(customer_ids)))
    )
    return {row[0]: row[1] for row in rows}


# --- webhook events -------------------------------------------------------------------------


def webhook_events(
    session: Session, cursor: str | None = None, limit: int = PAGE_SIZE
) -> Page[WebhookEvent]:
    """The received webhook events, newest first, a page at a time (without their payloads)."""
    return page(
        session,
        select(WebhookEvent).options(defer(WebhookEvent.payload, raiseload=True)),
        created_at=WebhookEvent.received_at,
        row_id=WebhookEvent.id,
        limit=limit,
        cursor=cursor,
    )


# --- deliveries -----------------------------------------------------------------------------


def deliveries(
    session: Session,
    status: MailStatus | None = None,
    cursor: str | None = None,
    limit: int = PAGE_SIZE,
) -> Page[MailMessage]:
    """The outbox, newest first, a page at a time, without the bodies (the list never shows
    them, and on a large outbox they are most of what would be read)."""
    statement = select(MailMessage).options(
        defer(MailMessage.text_body, raiseload=True), defer(MailMessage.html_body, raiseload=True)
    )
    if status is not None:
        statement = statement.where(MailMessage.status == status)
    return page(
        session,
        statement,
        created_at=MailMessage.created_at,
        row_id=MailMessage.id,
        limit=limit,
        cursor=cursor,
    )
