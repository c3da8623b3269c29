"""The dashboard's numbers, counted by the database per UTC day (and kept once a day is
settled), are the ones counting every row in Python gives."""

from __future__ import annotations

import hashlib
import random
from collections import Counter, defaultdict
from datetime import UTC, date, datetime, time, timedelta

import pytest
from sqlalchemy import func, select, text

from shipkey.admin_ui import daily, service
from shipkey.admin_ui.models import DashboardDay
from shipkey.catalog.models import Product, ProductType
from shipkey.clock import utcnow
from shipkey.config import Settings
from shipkey.db.engine import Database
from shipkey.downloads.models import Download
from shipkey.jobs.models import Job, JobStatus
from shipkey.jobs.worker import Worker
from shipkey.mail.models import MailKind, MailMessage, MailStatus
from shipkey.orders.models import Purchase, PurchaseStatus
from shipkey.storage import Storage

STATUSES = list(PurchaseStatus)


def _instants(rng: random.Random, today: date, n: int) -> list[datetime]:
    """Random moments of the last 35 days, many of them a breath either side of midnight."""
    moments = []
    for _ in range(n):
        day = today - timedelta(days=rng.randrange(0, 36))
        midnight = datetime.combine(day, time(0), tzinfo=UTC)
        moments.append(
            rng.choice(
                [
                    midnight,
                    midnight - timedelta(microseconds=1),
                    midnight + timedelta(seconds=rng.randrange(86400)),
                ]
            )
        )
    return moments


def _fill(db: Database, seed: int, n: int = 150) -> None:
    rng = random.Random(seed)
    today = utcnow().date()
    with db.session() as session:
        if session.get(Product, "prd_dash") is None:
            session.add(Product(id="prd_dash", name="Dash", slug="dash", type=ProductType.DOWNLOAD))
            session.flush()
        for i, moment in enumerate(_instants(rng, today, n)):
            status = rng.choice(STATUSES)
            session.add(
                Purchase(
                    id=f"pur_{seed}_{i}",
                    product_id="prd_dash",
                    email="ada@example.com",
                    status=status,
                    amount=rng.randrange(0, 10_000),
                    currency=rng.choice(["EUR", "EUR", "USD"]),
                    created_at=moment - timedelta(hours=1),
                    completed_at=None if status is PurchaseStatus.PENDING else moment,
                )
            )
        session.flush()
        for i, moment in enumerate(_instants(rng, today, n)):
            session.add(
                Download(
                    id=f"dl_{seed}_{i}",
                    purchase_id=f"pur_{seed}_{i % n}",
                    token_hash=hashlib.sha256(f"{seed}_{i}".encode()).hexdigest(),
                    created_at=moment,
                    expires_at=moment + timedelta(days=1),
                    downloaded_at=moment if i % 4 else None,
                )
            )
        for i, moment in enumerate(_instants(rng, today, n)):
            mail_status = rng.choice(list(MailStatus))
            session.add(
                MailMessage(
                    id=f"msg_{seed}_{i}",
                    kind=rng.choice([MailKind.DELIVERY, MailKind.LOGIN]),
                    to_address="ada@example.com",
                    locale="en",
                    subject="s",
                    text_body="t",
                    html_body="h",
                    status=mail_status,
                    created_at=moment,
                    sent_at=moment if mail_status is MailStatus.SENT else None,
                )
            )


def _expected(db: Database, days: int, now: datetime) -> dict[str, object]:
    """The numbers as the dashboard used to make them: every row read, counted in Python."""
    first = (now - timedelta(days=days - 1)).date()
    start = datetime.combine(first, time(0), tzinfo=UTC)
    day_list = [first + timedelta(days=i) for i in range(days)]
    with db.read_session() as session:
        sold = session.execute(
            select(Purchase.completed_at, Purchase.amount, Purchase.currency).where(
                Purchase.completed_at >= start,
                # (the same as before for the dashboard's own ``now``; for a day in the past
                # the revenue is the shown days', not up to today)
                Purchase.completed_at < start + timedelta(days=days),
                Purchase.status.in_(
                    [PurchaseStatus.COMPLETED, PurchaseStatus.REFUNDED, PurchaseStatus.DISPUTED]
                ),
            )
        ).all()
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
        statuses = Counter(session.scalars(select(MailMessage.status)))
        purchases = session.scalar(select(func.count()).select_from(Purchase))
        refunded = session.scalar(
            select(func.count()).where(Purchase.status == PurchaseStatus.REFUNDED)
        )
    revenue: Counter[str] = Counter()
    for _stamp, amount, currency in sold:
        revenue[currency] += amount
    main = revenue.most_common(1)[0][0] if revenue else None

    def series(stamps: list[datetime | None], weights: list[float] | None = None) -> list[float]:
        totals: dict[date, float] = defaultdict(float)
        for i, stamp in enumerate(stamps):
            assert stamp is not None
            totals[stamp.astimezone(UTC).date()] += weights[i] if weights else 1
        return [totals.get(day, 0) for day in day_list]

    money = [(stamp, amount / 100) for stamp, amount, currency in sold if currency == main]
    return {
        "sales": series([row[0] for row in sold]),
        "revenue": dict(revenue),
        "revenue_series": series([m[0] for m in money], [m[1] for m in money]),
        "deliveries": series([s for s in delivered if s]),
        "downloads": series([s for s in fetched if s]),
        "failed": statuses[MailStatus.FAILED],
        "pending": statuses[MailStatus.PENDING],
        "purchases": purchases,
        "refunded": refunded,
    }


def _actual(db: Database, days: int, now: datetime, zone: str | None = None) -> dict[str, object]:
    with db.read_session() as session:
        if zone and db.engine.dialect.name == "postgresql":
            session.execute(text(f"SET TIME ZONE '{zone}'"))
        d = service.dashboard(session, days, now, keep=service.keep_days(db))
    return {
        "sales": [value for _, value in d.sales.points],
        "revenue": d.revenue,
        "revenue_series": [round(value, 2) for _, value in d.revenue_series.points],
        "deliveries": [value for _, value in d.deliveries.points],
        "downloads": [value for _, value in d.downloads.points],
        "failed": d.failed_mail,
        "pending": d.pending_mail,
        "purchases": d.purchases_total,
        "refunded": d.refunded,
    }


def _rounded(numbers: dict[str, object]) -> dict[str, object]:
    numbers = dict(numbers)
    numbers["revenue_series"] = [round(v, 2) for v in numbers["revenue_series"]]  # type: ignore[attr-defined]
    return numbers


@pytest.mark.parametrize("zone", [None, "Pacific/Auckland", "America/Los_Angeles"])
def test_counts_per_day_equal_counting_every_row(db: Database, zone: str | None) -> None:
    _fill(db, 1)
    now = utcnow()
    expected = _rounded(_expected(db, 30, now))
    assert _actual(db, 30, now, zone) == expected  # settled days counted and kept
    with db.read_session() as session:
        kept = session.scalar(select(func.count()).select_from(DashboardDay))
    assert kept
    assert _actual(db, 30, now, zone) == expected  # settled days read back
    assert _actual(db, 7, now, zone) == _rounded(_expected(db, 7, now))


def test_today_and_yesterday_stay_live_and_settled_days_are_counted_on(db: Database) -> None:
    _fill(db, 2)
    now = utcnow()
    before = _actual(db, 30, now)
    with db.session() as session:  # a sale now is on today's bar at once
        session.add(
            Purchase(
                id="pur_now",
                product_id="prd_dash",
                status=PurchaseStatus.COMPLETED,
                amount=500,
                currency="EUR",
                created_at=now,
                completed_at=now,
            )
        )
    after = _actual(db, 30, now)
    assert after["sales"][-1] == before["sales"][-1] + 1  # type: ignore[index]
    assert after["purchases"] == before["purchases"] + 1  # type: ignore[operator]
    assert after == _rounded(_expected(db, 30, now))

    # A later day counts on from the last count kept: here one kept three days earlier.
    with db.session() as session:
        kept = session.scalars(
            select(DashboardDay).where(DashboardDay.metric == "purchases_before")
        ).one()
        earlier = date.fromisoformat(kept.day) - timedelta(days=3)
        kept.count = session.scalar(  # type: ignore[assignment]
            select(func.count()).where(
                Purchase.created_at < datetime.combine(earlier, time(0), tzinfo=UTC)
            )
        )
        kept.day = earlier.isoformat()
    assert _actual(db, 30, now)["purchases"] == after["purchases"]
    with db.read_session() as session:
        days = session.scalars(
            select(DashboardDay.day).where(DashboardDay.metric == "purchases_before")
        ).all()
    assert sorted(days) == [earlier.isoformat(), (earlier + timedelta(days=3)).isoformat()]


def test_a_day_in_the_past_and_an_empty_database(db: Database) -> None:
    empty = _actual(db, 30, utcnow())
    assert empty["sales"] == [0] * 30
    assert empty["revenue"] == {}
    assert empty["purchases"] == 0
    _fill(db, 4)  # back-dated rows (an import): the days kept are counted again once dropped
    with db.session() as session:
        session.execute(text("DELETE FROM dashboard_days"))
    past = utcnow() - timedelta(days=10)
    assert _actual(db, 30, past) == _rounded(_expected(db, 30, past))


def test_a_daily_job_counts_the_settled_days_before_anyone_looks(
    settings: Settings, db: Database, storage: Storage
) -> None:
    _fill(db, 5)
    worker = Worker(settings, db, storage)
    worker.registry.started(worker.ctx)
    worker.registry.started(worker.ctx)  # a second worker, or a restart: queued once
    with db.session() as session:
        [job] = session.scalars(select(Job).where(Job.kind == daily.COUNT_JOB)).all()
        job.run_at = utcnow() - timedelta(seconds=1)
    worker.run_once()
    with db.read_session() as session:
        marks = select(DashboardDay.day).where(DashboardDay.metric == "downloads")
        kept = set(session.scalars(marks))
        runs = session.scalars(
            select(Job).where(Job.kind == daily.COUNT_JOB).order_by(Job.run_at)
        ).all()
    today = utcnow().date()
    assert kept == {(today - timedelta(days=n)).isoformat() for n in range(2, 30)}
    assert [run.status for run in runs] == [JobStatus.DONE, JobStatus.QUEUED]
    assert runs[1].payload == {"day": (today + timedelta(days=1)).isoformat()}
    assert _actual(db, 30, utcnow()) == _rounded(_expected(db, 30, utcnow()))
