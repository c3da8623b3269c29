"""The command line's plain-SQL read of products matches the ORM's list."""

from __future__ import annotations

from sqlalchemy.orm import Session

from shipkey.catalog import service
from shipkey.catalog.listing import COLUMNS, QUERY, ProductRow, product_rows
from shipkey.catalog.models import Product, ProductType
from shipkey.db.engine import Database
from shipkey.db.plain import sqlite_file, sqlite_reader


def test_the_listed_columns_are_the_models_and_the_rows() -> None:
    model = Product.__table__.c
    for name in COLUMNS:
        assert name in model, name
    assert tuple(ProductRow.__dataclass_fields__) == COLUMNS


def _three_products(session: Session) -> None:
    for slug, price in (("b-second", 500), ("a-first", 1999), ("c-third", 0)):
        session.add(Product(slug=slug, name=slug.upper(), type=ProductType.LICENSE, price=price))
        session.flush()
    session.commit()


def test_the_rows_are_the_services_list_in_its_order(db: Database, session: Session) -> None:
    _three_products(session)
    with db.read_connection() as conn:
        rows = product_rows(conn.exec_driver_sql(QUERY))
    listed = service.list_products(session)
    assert [(r.id, r.slug, r.name, r.type, r.price, r.currency) for r in rows] == [
        (p.id, p.slug, p.name, p.type.value, p.price, p.currency) for p in listed
    ]
    assert [r.slug for r in rows] == ["b-second", "a-first", "c-third"]
    assert rows[0].file_name is None
    assert rows[0].file_size is None
    path = sqlite_file(db.url)
    if path is not None:  # SQLite: the same rows through sqlite3 alone
        with sqlite_reader(path) as reader:
            assert product_rows(reader.execute(QUERY)) == rows
