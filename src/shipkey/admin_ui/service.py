"""Rules behind the seller's pages: sign-in, the dashboard's numbers, searches, and the few
changes to a purchase the other services do not make (download counts, resending)."""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

from sqlalchemy import func, literal, or_, select, union_all, update
from sqlalchemy.orm import Session, defer

from shipkey.admin import service as tokens
from shipkey.admin_ui.actions import ensure_open
from shipkey.admin_ui.models import DashboardDay
from shipkey.clock import utcnow
from shipkey.config import Settings
from shipkey.db.engine import Database
from shipkey.db.paging import Page, encode_cursor, page
from shipkey.db.types import utc_day
from shipkey.db.writes import insert_ignore_many
from shipkey.downloads.models import Download
from shipkey.errors import BadRequest
from shipkey.licensing.models import License
from shipkey.mail.models import MailKind, MailMessage, MailStatus
from shipkey.orders import search
from shipkey.orders.models import Customer, Purchase, PurchaseStatus
from shipkey.orders.search import MAX_QUERY
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


SETTLED_AFTER = timedelta(days=2)
"""A day's numbers are kept once it is this old (today's and yesterday's are counted afresh:
a late webhook can still complete a sale of yesterday)."""

_SOLD = [PurchaseStatus.COMPLETED, PurchaseStatus.REFUNDED, PurchaseStatus.DISPUTED]

Numbers = dict[tuple[str, str, str], tuple[int, int]]
"""``(metric, day, currency) → (count, amount)``, as in :class:`DashboardDay`."""


def _count_days(session: Session, start: datetime, end: datetime | None) -> Numbers:
    """Sales (per currency), deliveries and downloads per UTC day from ``start`` to ``end``,
    counted by the database (GROUP BY the day) from indexes that hold every column read, in
    one statement (the three counts joined with UNION ALL: one round trip)."""

    def within(column: Any) -> list[Any]:
        return [column >= start] + ([column < end] if end is not None else [])

    sold_day = utc_day(Purchase.completed_at)
    parts: list[Any] = [
        select(
            literal("sales"), sold_day, Purchase.currency, func.count(), func.sum(Purchase.amount)
        )
        .where(*within(Purchase.completed_at), Purchase.status.in_(_SOLD))
        .group_by(sold_day, Purchase.currency)
    ]
    for metric, stamp, where in (
        (
            "deliveries",
            MailMessage.sent_at,
            [MailMessage.kind == MailKind.DELIVERY, MailMessage.status == MailStatus.SENT],
        ),
        ("downloads", Download.downloaded_at, []),
    ):
        per_day = utc_day(stamp)
        parts.append(
            select(literal(metric), per_day, literal(""), func.count(), literal(0))
            .where(*where, *within(stamp))
            .group_by(per_day)
        )
    numbers: Numbers = {}
    for metric, day, currency, count, amount in session.execute(union_all(*parts)):
        numbers[str(metric), str(day), str(currency)] = (int(count), int(amount or 0))
    return numbers


def _midnight(day: date) -> datetime:
    return datetime(day.year, day.month, day.day, tzinfo=UTC)


def _kept(session: Session, days: list[date], boundary: date) -> Sequence[DashboardDay]:
    """The kept rows of ``days`` and the count of purchases before ``boundary`` (one query)."""
    names = [day.isoformat() for day in days] + [boundary.isoformat()]
    return session.scalars(select(DashboardDay).where(DashboardDay.day.in_(names))).all()


def _settled(
    session: Session,
    days: list[date],
    rows: Sequence[DashboardDay],
    keep: Callable[[list[DashboardDay]], None] | None,
) -> Numbers:
    """The kept numbers of ``days`` (all settled) from ``rows``; days not kept yet are counted
    now (those only) and handed to ``keep``."""
    if not days:
        return {}
    names = {day.isoformat() for day in days}
    rows = [r for r in rows if r.day in names and r.metric != "purchases_before"]
    numbers: Numbers = {(r.metric, r.day, r.currency): (r.count, r.amount) for r in rows}
    done = {r.day for r in rows if r.metric == "deliveries"}
    missing = [day for day in days if day.isoformat() not in done]
    if not missing:
        return numbers
    counted = _count_days(
        session, _midnight(missing[0]), _midnight(missing[-1] + timedelta(days=1))
    )
    new: list[DashboardDay] = []
    for day in missing:
        name = day.isoformat()
        for metric in ("deliveries", "downloads"):  # always a row: it marks the day as kept
            counted.setdefault((metric, name, ""), (0, 0))
        new += [
            DashboardDay(day=d, metric=m, currency=c, count=n, amount=a)
            for (m, d, c), (n, a) in counted.items()
            if d == name
        ]
    counted_days = {day.isoformat() for day in missing}
    numbers.update((key, value) for key, value in counted.items() if key[1] in counted_days)
    if keep is not None:
        keep(new)
    return numbers


def _purchases_before(
    session: Session,
    boundary: date,
    rows: Sequence[DashboardDay],
    keep: Callable[[list[DashboardDay]], None] | None,
) -> int:
    """Every purchase created before ``boundary``: as kept, or counted on from the last day
    kept (the newest kept count among ``rows``, else the newest in the table), or counted
    now; a new count is handed to ``keep``."""
    name = boundary.isoformat()
    kept_rows = [r for r in rows if r.metric == "purchases_before" and r.day <= name]
    before = max(kept_rows, key=lambda r: r.day) if kept_rows else None
    if before is None:
        before = session.scalars(
            select(DashboardDay)
            .where(DashboardDay.metric == "purchases_before", DashboardDay.day <= name)
            .order_by(DashboardDay.day.desc())
            .limit(1)
        ).first()

    def created(*where: Any) -> int:
        return int(session.scalar(select(func.count()).select_from(Purchase).where(*where)) or 0)

    edge = _midnight(boundary)
    if before is not None and before.day == name:
        return before.count
    if before is None:
        # Every purchase less those since the edge, in one statement: a count of the whole
        # table reads its smallest index, a third of the time of reading the created_at index
        # up to the edge (bench/README.md, "Data at scale").
        whole = select(func.count()).select_from(Purchase).scalar_subquery()
        since_edge = (
            select(func.count())
            .select_from(Purchase)
            .where(Purchase.created_at >= edge)
            .scalar_subquery()
        )
        count = int(session.execute(select(whole - since_edge)).scalar_one())
    else:
        since = _midnight(date.fromisoformat(before.day))
        count = before.count + created(Purchase.created_at >= since, Purchase.created_at < edge)
    if keep is not None:
        keep(
            [DashboardDay(day=name, metric="purchases_before", currency="", count=count, amount=0)]
        )
    return count


def keep_days(db: Database) -> Callable[[list[DashboardDay]], None]:
    """Store counted days in a short transaction of their own (a day counted by two pages at
    once is stored once)."""

    def keep(rows: list[DashboardDay]) -> None:
        if not rows:
            return
        values = [
            {
                "day": row.day,
                "metric": row.metric,
                "currency": row.currency,
                "count": row.count,
                "amount": row.amount,
            }
            for row in rows
        ]
        with db.session() as session:
            insert_ignore_many(session, DashboardDay, values)

    return keep


def dashboard(
    session: Session,
    days: int = 30,
    now: datetime | None = None,
    keep: Callable[[list[DashboardDay]], None] | None = None,
) -> Dashboard:
    """Sales, revenue, deliveries and downloads per day over the last ``days`` days (UTC).

    Settled days (two days old) are read from ``dashboard_days``; a day not kept yet is counted
    once and handed to ``keep`` (:func:`keep_days`; without it nothing is kept). Today and
    yesterday are counted afresh. Every count is made by the database from an index alone."""
    now = now or utcnow()
    first = (now - timedelta(days=days - 1)).date()
    day_list = _days(first, days)
    unsettled = (utcnow() - SETTLED_AFTER).date() + timedelta(days=1)
    kept = _kept(session, day_list, unsettled)
    numbers = _settled(session, [day for day in day_list if day < unsettled], kept, keep)
    before = _purchases_before(session, unsettled, kept, keep)
    live_from = max(first, unsettled)
    if live_from <= day_list[-1]:
        numbers.update(_count_days(session, _midnight(live_from), None))
    shown = {day.isoformat() for day in day_list}
    numbers = {key: value for key, value in numbers.items() if key[1] in shown}

    revenue: Counter[str] = Counter()
    for (metric, _day, currency), (_count, amount) in numbers.items():
        if metric == "sales":
            revenue[currency] += amount
    main_currency = revenue.most_common(1)[0][0] if revenue else None
    totals: dict[str, dict[str, float]] = defaultdict(lambda: defaultdict(float))
    for (metric, day, currency), (count, amount) in numbers.items():
        totals[metric][day] += count
        if metric == "sales" and currency == main_currency:
            totals["revenue"][day] += amount / 100

    def counted(table: Any, *where: Any) -> Any:
        return select(func.count()).select_from(table).where(*where).scalar_subquery()

    # The counts that cannot be kept (a refund or a failed e-mail can be of any day), in one
    # statement: each from an index alone.
    refunded, failed, pending, since = session.execute(
        select(
            counted(Purchase, Purchase.status == PurchaseStatus.REFUNDED),
            counted(MailMessage, MailMessage.status == MailStatus.FAILED),
            counted(MailMessage, MailMessage.status == MailStatus.PENDING),
            counted(Purchase, Purchase.created_at >= _midnight(unsettled)),
        )
    ).one()
    return Dashboard(
        days=days,
        sales=_series(day_list, totals["sales"]),
        revenue=dict(revenue),
        revenue_series=_series(day_list, totals["revenue"]),
        revenue_currency=main_currency,
        deliveries=_series(day_list, totals["deliveries"]),
        downloads=_series(day_list, totals["downloads"]),
        failed_mail=int(failed or 0),
        pending_mail=int(pending or 0),
        purchases_total=before + int(since or 0),
        refunded=int(refunded or 0),
    )


def _series(days: list[date], totals: dict[str, float]) -> Series:
    return Series([(day, totals.get(day.isoformat(), 0)) for day in days])


# --- purchases ------------------------------------------------------------------------------


PAGE_SIZE = 50
"""Rows on one page of a seller's list; the next ones are behind its "Older" link."""


def search_purchases(
    session: Session, query: str = "", cursor: str | None = None, limit: int = PAGE_SIZE
) -> Page[Purchase]:
    """Newest first, a page at a time; ``query`` is a buyer's whole address (that address's
    purchases: an index lookup; one not on file is matched anywhere), part of one (matched
    anywhere: on PostgreSQL a trigram index answers), or a purchase id."""
    statement = select(Purchase)
    query = query.strip()[:MAX_QUERY]
    if query:
        address = search.seller_match(session, Purchase.email, query)
        if search.is_whole_address(query):  # on file: that address; if not, matched anywhere
            statement = statement.where(address)
        else:
            statement = statement.where(or_(address, Purchase.id == query.lower()))
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
    """Newest first, a page at a time; ``query`` matches part of a key, or the buyer's address
    (a whole address on file is that buyer's; anything else is matched anywhere in the
    address: :func:`shipkey.orders.search.seller_match`).

    The two matches are two keyset queries merged here: each can use its own index (the key's
    trigrams; the buyer's address, then the licenses of those buyers), where one query with
    ``OR`` would read every license to test the second half."""
    listing = select(License)
    query = query.strip()[:MAX_QUERY]
    if not query:
        return page(
            session,
            listing,
            created_at=License.created_at,
            row_id=License.id,
            limit=limit,
            cursor=cursor,
        )
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
            License.key.like(search.like_anywhere(query.upper()), escape="\\"),
            License.customer_id.in_(
                search.customers_matching(search.seller_match(session, Customer.email, query))
            ),
        )
    ]
    merged = {lic.id: lic for half in halves for lic in half.items}
    newest = sorted(merged.values(), key=lambda lic: (lic.created_at, lic.id), reverse=True)
    more = len(newest) > limit or any(half.next_cursor for half in halves)
    items = newest[:limit]
    last = items[-1] if items else None
    return Page(items, encode_cursor(last.created_at, last.id) if more and last else None)


def customer_emails(session: Session, customer_ids: Sequence[str]) -> dict[str, str]:
    return search.customer_emails(session, customer_ids)


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
