"""The seller's lists page with "Older" links (keyset on ``(created_at, id)``): walking them
shows every row once, newest first, even while new rows arrive, searches and filters included."""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from itertools import count
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from shipkey.admin_ui.service import PAGE_SIZE
from shipkey.catalog.models import LicenseType, Product, ProductType
from shipkey.db.engine import Database
from shipkey.licensing.models import License
from shipkey.mail.models import MailMessage, MailStatus
from shipkey.orders.models import Customer, Purchase, PurchaseStatus
from shipkey.payments.models import EventStatus, WebhookEvent

START = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
ROWS = 2 * PAGE_SIZE + 7
_NEXT = re.compile(r'<a rel="next" href="([^"]+)"')
_serial = count()


def _stamp(i: int) -> datetime:
    """Two rows share each instant, so the id decides between them."""
    return START + timedelta(seconds=i // 2)


@pytest.fixture
def product(db: Database) -> str:
    with db.session() as session:
        session.add(
            Product(id="prd_paging", name="Paging", slug="paging", type=ProductType.LICENSE)
        )
        session.add(Customer(id="cus_ada", email="ada@example.com", created_at=START))
        session.add(Customer(id="cus_bob", email="bob@example.org", created_at=START))
    return "prd_paging"


def _purchase(i: int, when: datetime, email: str | None = None) -> Purchase:
    return Purchase(
        id=f"pur_{next(_serial):06d}_{i:04d}",
        product_id="prd_paging",
        email=email or f"buyer{i}@example.com",
        status=PurchaseStatus.COMPLETED,
        created_at=when,
    )


def _license(i: int, when: datetime, customer: str = "cus_bob", tag: str = "ZZZZZ") -> License:
    return License(
        id=f"lic_{next(_serial):06d}_{i:04d}",
        key=f"PAG-{tag}-{i:05d}-{next(_serial):06d}",
        product_id="prd_paging",
        customer_id=customer,
        license_type=LicenseType.PERPETUAL,
        max_activations=3,
        created_at=when,
    )


def _mail(i: int, when: datetime, status: MailStatus = MailStatus.SENT) -> MailMessage:
    return MailMessage(
        id=f"msg_{next(_serial):06d}_{i:04d}",
        kind="delivery",
        to_address=f"m{next(_serial)}@example.com",
        locale="en",
        subject="Your download",
        text_body="body",
        html_body="<p>body</p>",
        status=status,
        created_at=when,
    )


def _event(i: int, when: datetime) -> WebhookEvent:
    return WebhookEvent(
        id=f"whe_{next(_serial):06d}_{i:04d}",
        provider="stripe",
        event_id=f"evt_{next(_serial):06d}",
        type="checkout.session.completed",
        status=EventStatus.PROCESSED,
        payload={},
        received_at=when,
    )


def _every_event(db: Database) -> list[WebhookEvent]:
    with db.read_session() as session:
        return list(session.scalars(select(WebhookEvent)))


def _add(db: Database, rows: Sequence[Any]) -> None:
    with db.session() as session:
        session.add_all(rows)


def _walk(
    seller: TestClient, first: str, found: Callable[[str], list[str]], between: Callable[[], None]
) -> list[list[str]]:
    """Every page from ``first`` on, following "Older"; ``between`` runs before each next page."""
    pages, url = [], first
    while True:
        response = seller.get(url)
        assert response.status_code == 200, response.text
        pages.append(found(response.text))
        following = _NEXT.search(response.text)
        if following is None:
            return pages
        assert "Newest" in seller.get(following.group(1).replace("&amp;", "&")).text
        between()
        url = following.group(1).replace("&amp;", "&")


def _expect(
    rows: Sequence[Any],
    key: Callable[[Any], str],
    when: Callable[[Any], datetime],
    row_id: Callable[[Any], str],
) -> list[str]:
    ordered = sorted(rows, key=lambda row: (when(row), row_id(row)), reverse=True)
    return [key(row) for row in ordered]


def _check(pages: list[list[str]], expected: list[str]) -> None:
    walked = [item for one in pages for item in one]
    assert walked == expected  # each once, newest first, none skipped
    assert all(len(one) == PAGE_SIZE for one in pages[:-1])


@pytest.mark.usefixtures("product")
def test_purchases_page_by_page_while_sales_come_in(seller: TestClient, db: Database) -> None:
    rows = [_purchase(i, _stamp(i)) for i in range(ROWS)]
    _add(db, rows)
    later = count(1)

    def a_new_sale() -> None:
        _add(db, [_purchase(0, START + timedelta(days=next(later)))])

    pages = _walk(
        seller,
        "/admin/purchases",
        re.compile(r'href="/admin/purchases/(pur_[^"]+)">').findall,
        a_new_sale,
    )
    unique = [list(dict.fromkeys(one)) for one in pages]  # two links per row
    _check(unique, _expect(rows, lambda p: p.id, lambda p: p.created_at, lambda p: p.id))
    assert len(pages) == 3


@pytest.mark.usefixtures("product")
def test_a_purchase_search_pages_too(seller: TestClient, db: Database) -> None:
    matching = [
        _purchase(i, _stamp(i), email=f"grace{i}@example.com") for i in range(PAGE_SIZE + 3)
    ]
    others = [_purchase(i, _stamp(i), email=f"ada{i}@example.com") for i in range(20)]
    _add(db, matching + others)
    pages = _walk(
        seller,
        "/admin/purchases?q=GRACE",
        re.compile(r'href="/admin/purchases/(pur_[^"]+)">').findall,
        lambda: _add(db, [_purchase(0, START + timedelta(days=3), email="grace-new@example.com")]),
    )
    unique = [list(dict.fromkeys(one)) for one in pages]
    _check(unique, _expect(matching, lambda p: p.id, lambda p: p.created_at, lambda p: p.id))


@pytest.mark.usefixtures("product")
def test_licenses_page_by_page_and_a_search_by_key_or_address(
    seller: TestClient, db: Database
) -> None:
    by_key = [_license(i, _stamp(i), tag="QQQQQ") for i in range(40)]
    by_address = [_license(i, _stamp(i + 1), customer="cus_ada") for i in range(40)]
    both = [_license(i, _stamp(i + 2), customer="cus_ada", tag="QQQQQ") for i in range(10)]
    neither = [_license(i, _stamp(i)) for i in range(30)]
    _add(db, by_key + by_address + both + neither)
    found = re.compile(r'href="/admin/licenses/(lic_[^"]+)"').findall
    later = count(1)

    def a_new_license() -> None:
        _add(
            db, [_license(0, START + timedelta(days=next(later)), customer="cus_ada", tag="QQQQQ")]
        )

    everything = by_key + by_address + both + neither
    pages = _walk(seller, "/admin/licenses", found, lambda: None)
    _check(pages, _expect(everything, lambda x: x.id, lambda x: x.created_at, lambda x: x.id))

    for query in ("qqqqq", "ADA@EXAMPLE"):
        wanted = by_key + both if query == "qqqqq" else by_address + both
        pages = _walk(seller, f"/admin/licenses?q={query}", found, a_new_license)
        _check(pages, _expect(wanted, lambda x: x.id, lambda x: x.created_at, lambda x: x.id))
    matched = [
        lic for half in _walk(seller, "/admin/licenses?q=a", found, lambda: None) for lic in half
    ]
    assert len(matched) == len(set(matched))  # a license matching twice is listed once


def test_deliveries_and_webhook_events_page_by_page(seller: TestClient, db: Database) -> None:
    mails = [
        _mail(i, _stamp(i), MailStatus.FAILED if i % 3 == 0 else MailStatus.SENT)
        for i in range(ROWS)
    ]
    events = [_event(i, _stamp(i)) for i in range(ROWS)]
    _add(db, mails + events)
    later = count(1)

    added: list[MailMessage] = []

    def more() -> None:
        moment = START + timedelta(days=next(later))
        added.append(_mail(0, moment, MailStatus.FAILED))
        _add(db, [added[-1], _event(0, moment)])

    addresses = re.compile(r">(m\d+@example\.com)<").findall
    _check(
        _walk(seller, "/admin/deliveries", addresses, more),
        _expect(mails, lambda m: m.to_address, lambda m: m.created_at, lambda m: m.id),
    )
    failed = [m for m in mails + added if m.status is MailStatus.FAILED]
    pages = _walk(seller, "/admin/deliveries?status=FAILED", addresses, more)
    _check(pages, _expect(failed, lambda m: m.to_address, lambda m: m.created_at, lambda m: m.id))
    events += [e for e in _every_event(db) if e.id not in {x.id for x in events}]
    _check(
        _walk(seller, "/admin/webhooks", re.compile(r"<code>(evt_[^<]+)</code>").findall, more),
        _expect(events, lambda e: e.event_id, lambda e: e.received_at, lambda e: e.id),
    )


def test_a_cursor_that_was_not_given_out_is_refused(seller: TestClient) -> None:
    for path in ("/admin/purchases", "/admin/licenses", "/admin/deliveries", "/admin/webhooks"):
        response = seller.get(path, params={"cursor": "bm90LWEtY3Vyc29y"})
        assert response.status_code == 400, path
        assert seller.get(path, params={"cursor": "not/one"}).status_code == 422, path
