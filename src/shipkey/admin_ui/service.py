"""Rules behind the seller's pages: sign-in, the dashboard's numbers, searches, and the few
changes to a purchase the other services do not make (download counts, resending)."""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import Table, func, inspect, or_, select, update
from sqlalchemy.orm import Session

from shipkey.admin import service as tokens
from shipkey.admin_ui.actions import ensure_open
from shipkey.clock import utcnow
from shipkey.config import Settings
from shipkey.db.types import Base
from shipkey.downloads.models import Download
from shipkey.errors import BadRequest
from shipkey.licensing.models import License
from shipkey.mail.models import MailKind, MailMessage, MailStatus
from shipkey.orders.models import Customer, Purchase, PurchaseStatus
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


def _series(days: list[date], stamps: Sequence[datetime], weights: Sequence[float] = ()) -> Series:
    totals: dict[date, float] = defaultdict(float)
    for index, stamp in enumerate(stamps):
        totals[stamp.date()] += weights[index] if weights else 1
    return Series([(day, totals.get(day, 0)) for day in days])


def dashboard(session: Session, days: int = 30, now: datetime | None = None) -> Dashboard:
    """Sales, revenue, deliveries and downloads per day over the last ``days`` days (UTC)."""
    now = now or utcnow()
    first = (now - timedelta(days=days - 1)).date()
    start = datetime(first.year, first.month, first.day, tzinfo=now.tzinfo)
    day_list = _days(first, days)
    sold = session.execute(
        select(Purchase.completed_at, Purchase.amount, Purchase.currency).where(
            Purchase.completed_at >= start,
            Purchase.status.in_(
                [PurchaseStatus.COMPLETED, PurchaseStatus.REFUNDED, PurchaseStatus.DISPUTED]
            ),
        )
    ).all()
    stamps = [row[0] for row in sold if row[0] is not None]
    revenue: Counter[str] = Counter()
    for _stamp, amount, currency in sold:
        revenue[currency] += amount
    main_currency = revenue.most_common(1)[0][0] if revenue else None
    money_rows = [
        (stamp, amount) for stamp, amount, currency in sold if stamp and currency == main_currency
    ]
    delivered = session.scalars(
        select(MailMessage.sent_at).where(
            MailMessage.kind == MailKind.DELIVERY,
            MailMessage.status == MailStatus.SENT,
            MailMessage.sent_at >= start,
        )
    ).all()
    fetched = session.scalars(
        select(Download.downloaded_at).where(Download.downloaded_at >= start)
    ).all()
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
        sales=_series(day_list, stamps),
        revenue=dict(revenue),
        revenue_series=_series(
            day_list, [stamp for stamp, _ in money_rows], [amount / 100 for _, amount in money_rows]
        ),
        revenue_currency=main_currency,
        deliveries=_series(day_list, [s for s in delivered if s is not None]),
        downloads=_series(day_list, [s for s in fetched if s is not None]),
        failed_mail=int(by_status.get(MailStatus.FAILED, 0)),
        pending_mail=int(by_status.get(MailStatus.PENDING, 0)),
        purchases_total=int(purchases_total),
        refunded=int(refunded),
    )


# --- purchases ------------------------------------------------------------------------------


def search_purchases(session: Session, query: str = "", limit: int = 100) -> list[Purchase]:
    """Newest first; ``query`` matches part of the buyer's e-mail, or a purchase id."""
    statement = select(Purchase).order_by(Purchase.created_at.desc(), Purchase.id).limit(limit)
    query = query.strip().lower()[:320]
    if query:
        pattern = "%" + query.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        statement = statement.where(
            or_(Purchase.email.like(pattern, escape="\\"), Purchase.id == query)
        )
    return list(session.scalars(statement))


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


def search_licenses(session: Session, query: str = "", limit: int = 100) -> list[License]:
    """Newest first; ``query`` matches part of a key, or the buyer's e-mail."""
    statement = select(License).order_by(License.created_at.desc(), License.id).limit(limit)
    query = query.strip()[:320]
    if query:
        escaped = query.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        customers = select(Customer.id).where(
            Customer.email.like(f"%{escaped.lower()}%", escape="\\")
        )
        statement = statement.where(
            or_(
                License.key.like(f"%{escaped.upper()}%", escape="\\"),
                License.customer_id.in_(customers),
            )
        )
    return list(session.scalars(statement))


def customer_emails(session: Session, customer_ids: Sequence[str]) -> dict[str, str]:
    if not customer_ids:
        return {}
    rows = session.execute(
        select(Customer.id, Customer.email).where(Customer.id.in_(set(customer_ids)))
    )
    return {row[0]: row[1] for row in rows}


# --- webhook events -------------------------------------------------------------------------

WEBHOOK_TABLE = "webhook_events"


def webhook_events(session: Session, limit: int = 200) -> list[dict[str, Any]] | None:
    """The newest received webhook events as plain rows; None when this installation has no
    webhook event log."""
    table = Base.metadata.tables.get(WEBHOOK_TABLE)
    if table is None:
        if not inspect(session.get_bind()).has_table(WEBHOOK_TABLE):
            return None
        table = Table(WEBHOOK_TABLE, Base.metadata.__class__(), autoload_with=session.get_bind())
    order = table.c.received_at.desc() if "received_at" in table.c else table.c.id.desc()
    columns = [c for c in table.c if c.name != "payload"]
    rows = session.execute(select(*columns).order_by(order).limit(limit)).mappings()
    return [dict(row) for row in rows]
