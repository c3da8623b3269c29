"""On PostgreSQL the seller's lists, searches and dashboard are answered from their indexes
(read from the plans, not from timings): a page reads its rows, not the table."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
from sqlalchemy import event, text
from sqlalchemy.orm import Session

from shipkey.admin_ui import service
from shipkey.catalog.models import Product, ProductType
from shipkey.db.engine import Database
from shipkey.db.types import Base
from shipkey.licensing import lookups
from shipkey.sales import queries

ROWS = 20_000

FILL = [
    "INSERT INTO customers (id, email, created_at) SELECT 'cus_' || i,"
    " 'buyer' || i || '@example.com', now() FROM generate_series(1, :rows) i",
    "INSERT INTO purchases (id, product_id, customer_id, email, status, amount, currency,"
    " source, max_downloads, download_count, created_at, completed_at, amount_refunded)"
    " SELECT 'pur_' || i, 'prd_plan', 'cus_' || i, 'buyer' || i || '@example.com',"
    " 'COMPLETED', 900, 'EUR', 'stripe', 5, 0, now() - i * interval '20 minutes',"
    " now() - i * interval '20 minutes', 0 FROM generate_series(1, :rows) i",
    "INSERT INTO licenses (id, key, product_id, customer_id, purchase_id, license_type,"
    " status, max_activations, activation_count, created_at) SELECT 'lic_' || i,"
    " 'PLN-' || upper(md5('k' || i)), 'prd_plan', 'cus_' || i, 'pur_' || i, 'PERPETUAL',"
    " 'ACTIVE', 3, 0, now() - i * interval '20 minutes' FROM generate_series(1, :rows) i",
    "INSERT INTO mail_messages (id, kind, to_address, locale, subject, text_body, html_body,"
    " status, attempts, created_at, sent_at) SELECT 'msg_' || i, 'delivery',"
    " 'buyer' || i || '@example.com', 'en', 's', repeat('t', 500), repeat('h', 500),"
    " CASE WHEN i % 100 = 0 THEN 'FAILED' ELSE 'SENT' END, 1,"
    " now() - i * interval '20 minutes', now() - i * interval '20 minutes'"
    " FROM generate_series(1, :rows) i",
    "INSERT INTO downloads (id, purchase_id, token_hash, created_at, expires_at,"
    " downloaded_at, resumed_bytes) SELECT 'dl_' || i, 'pur_' || i, md5('a' || i) ||"
    " md5('b' || i), now() - i * interval '20 minutes', now(), now() - i * interval '20 minutes',"
    " 0 FROM generate_series(1, :rows) i",
]


@pytest.fixture
def big(postgres_url: str) -> Iterator[Database]:
    db = Database(postgres_url)
    tables = ", ".join(f'"{t.name}"' for t in Base.metadata.sorted_tables)
    with db.engine.begin() as conn:
        conn.execute(text(f"TRUNCATE {tables} RESTART IDENTITY CASCADE"))
    with db.session() as session:
        session.add(Product(id="prd_plan", name="Plan", slug="plan", type=ProductType.LICENSE))
    with db.engine.begin() as conn:
        for statement in FILL:
            conn.execute(text(statement), {"rows": ROWS})
    with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(text("VACUUM ANALYZE"))  # as autovacuum does on a database in use
    yield db
    with db.engine.begin() as conn:
        conn.execute(text(f"TRUNCATE {tables} RESTART IDENTITY CASCADE"))
    db.dispose()


def _plans(db: Database, call: Callable[[Session], Any]) -> list[str]:
    """The plan of every SELECT ``call`` makes."""
    statements: list[tuple[str, Any]] = []

    def record(_conn: Any, _cursor: Any, statement: str, parameters: Any, *_: Any) -> None:
        if statement.lstrip().upper().startswith("SELECT"):
            statements.append((statement, parameters))

    event.listen(db.engine, "before_cursor_execute", record)
    try:
        with db.read_session() as session:
            call(session)
    finally:
        event.remove(db.engine, "before_cursor_execute", record)
    with db.engine.connect() as conn:
        return [
            "\n".join(conn.exec_driver_sql("EXPLAIN " + sql, params).scalars())
            for sql, params in statements
        ]


def _uses(plan: str, index: str, table: str) -> None:
    assert index in plan, plan
    assert f"Seq Scan on {table}" not in plan, plan


def test_the_lists_read_their_page_from_the_created_at_index(big: Database) -> None:
    for call, index, table in [
        (lambda s: service.search_purchases(s), "ix_purchases_created_id", "purchases"),
        (lambda s: service.search_licenses(s), "ix_licenses_created_id", "licenses"),
        (lambda s: service.deliveries(s), "ix_mail_messages_created_id", "mail_messages"),
    ]:
        [plan] = _plans(big, call)
        _uses(plan, index, table)
        assert "Sort" not in plan, plan  # the index gives the order: no table read and sorted
    with big.read_session() as session:
        cursor = service.search_purchases(session).next_cursor
    [plan] = _plans(big, lambda s: service.search_purchases(s, "", cursor))
    _uses(plan, "ix_purchases_created_id", "purchases")
    assert "Index Cond: (ROW(created_at, (id)::text) <" in plan


def test_match_anywhere_searches_use_the_trigram_indexes(big: Database) -> None:
    [plan] = _plans(big, lambda s: service.search_purchases(s, "buyer1234@example"))
    _uses(plan, "ix_purchases_email_trgm", "purchases")
    by_key, by_address = _plans(big, lambda s: service.search_licenses(s, "ABCDEF"))
    _uses(by_key, "ix_licenses_key_trgm", "licenses")
    assert "Seq Scan on licenses" not in by_address, by_address
    assert "ix_customers_email_trgm" in by_address, by_address


def test_a_whole_address_is_looked_up_in_the_address_indexes(big: Database) -> None:
    """A whole address's trigrams are in nearly every address: it is looked up as it is, on
    the admin pages and in the admin API's lists alike."""
    address = "buyer1234@example.com"
    on_file, plan = _plans(big, lambda s: service.search_purchases(s, address.upper()))
    for looked_up in (on_file, plan):  # is it on file, then that address's page
        _uses(looked_up, "ix_purchases_email_created_at_id", "purchases")
        assert "trgm" not in looked_up, looked_up
    on_file, _key, by_address = _plans(big, lambda s: service.search_licenses(s, address))
    _uses(on_file, "uq_customers_email", "customers")
    for index in ("uq_customers_email", "ix_licenses_customer_created_at_id"):
        _uses(by_address, index, "licenses")
    assert "trgm" not in by_address, by_address

    plans = _plans(
        big,
        lambda s: queries.list_purchases(
            s, queries.PurchaseFilter(email=address), limit=50, cursor=None
        ),
    )
    _uses(plans[0], "ix_purchases_email_created_at_id", "purchases")
    [plan, *_] = _plans(
        big,
        lambda s: lookups.list_licenses(
            s, status=None, product=None, email=address, limit=50, cursor=None
        ),
    )
    _uses(plan, "uq_customers_email", "licenses")
    _uses(plan, "ix_licenses_customer_created_at_id", "customers")
    [plan, *_] = _plans(big, lambda s: queries.list_customers(s, address, limit=50, cursor=None))
    _uses(plan, "uq_customers_email", "customers")


def test_the_dashboard_counts_today_from_indexes_alone(big: Database) -> None:
    def dashboard(session: Session) -> None:
        service.dashboard(session, keep=service.keep_days(big))

    with big.read_session() as session:
        dashboard(session)  # the settled days counted and kept, as on the day's first view
    each = _plans(big, dashboard)
    assert len(each) == 3, each  # the kept days, today's and yesterday's counts, the totals
    plans = "\n".join(each)
    for index in (
        "ix_purchases_completed_sales",
        "ix_mail_messages_kind_status_sent",
        "ix_downloads_downloaded_at",
    ):
        assert f"Index Only Scan using {index}" in plans, plans
    for table in ("purchases", "mail_messages", "downloads"):
        assert f"Seq Scan on {table}" not in plans, plans


def test_a_dashboard_with_no_day_kept_counts_every_purchase_from_indexes_alone(
    big: Database,
) -> None:
    """The first view of an installation whose days were never counted counts every earlier
    purchase as the whole table less the purchases since: no statement reads the table."""

    def dashboard(session: Session) -> None:
        service.dashboard(session)  # nothing kept: every settled day counted again

    plans = "\n".join(_plans(big, dashboard))
    assert "Seq Scan on purchases" not in plans, plans
    assert "created_at < " not in plans, plans  # not read up to the edge: the whole, less since
