"""The seller's shared filters: a whole address is looked up as it is, part of one is matched
anywhere, on SQLite and PostgreSQL alike."""

from __future__ import annotations

import pytest

from shipkey.catalog.models import Product, ProductType
from shipkey.db.engine import Database
from shipkey.orders import search
from shipkey.orders.models import Customer


@pytest.mark.parametrize(
    ("text", "whole"),
    [
        ("buyer12345@example.com", True),
        ("  Grace.Hopper+shop@Mail.Example.org ", True),
        ("a@b.c", True),
        ("@example.com", False),
        ("buyer12345@example", False),
        ("buyer12345@example.", False),
        ("buyer@.com", False),
        ("buyer 1@example.com", False),
        ("a@b@example.com", False),
        ("example.com", False),
        ("buyer12", False),
        ("", False),
    ],
)
def test_a_whole_address_is_a_name_an_at_and_a_host_with_a_dot(text: str, whole: bool) -> None:
    assert search.is_whole_address(text) is whole


def test_a_pattern_takes_the_searched_text_literally() -> None:
    assert search.like_anywhere("a_b%c\\d") == "%a\\_b\\%c\\\\d%"


@pytest.fixture
def buyers(db: Database) -> Database:
    with db.session() as session:
        session.add_all(
            [
                Customer(id="cus_grace", email="grace@example.com"),
                Customer(id="cus_ungrace", email="ungrace@example.com"),
                Customer(id="cus_ada", email="ada@example.org"),
                Customer(id="cus_under", email="a_b@example.net"),
                Product(id="prd_one", name="One", slug="one", type=ProductType.LICENSE),
            ]
        )
    return db


def _ids(db: Database, text: str, *, anywhere: bool) -> set[str]:
    with db.read_session() as session:
        return set(session.scalars(search.customers_matching(text, anywhere=anywhere)))


def test_a_whole_address_finds_that_address_only(buyers: Database) -> None:
    assert _ids(buyers, " Grace@Example.COM ", anywhere=True) == {"cus_grace"}
    assert _ids(buyers, "grace@example.com", anywhere=False) == {"cus_grace"}


def test_part_of_an_address_is_matched_anywhere_when_asked(buyers: Database) -> None:
    assert _ids(buyers, "GRACE", anywhere=True) == {"cus_grace", "cus_ungrace"}
    assert _ids(buyers, "@example.com", anywhere=True) == {"cus_grace", "cus_ungrace"}
    assert _ids(buyers, "race@example", anywhere=True) == {"cus_grace", "cus_ungrace"}
    assert _ids(buyers, "a_b", anywhere=True) == {"cus_under"}  # "_" is no wildcard
    assert _ids(buyers, "%", anywhere=True) == set()
    assert _ids(buyers, "GRACE", anywhere=False) == set()  # the API's filters are exact


def test_products_by_id_or_slug_and_addresses_by_buyer(buyers: Database) -> None:
    with buyers.read_session() as session:
        for ref in ("one", "prd_one"):
            assert list(session.scalars(search.product_ids(ref))) == ["prd_one"]
        assert list(session.scalars(search.product_ids("other"))) == []
        assert search.customer_emails(session, ["cus_ada", None, "cus_none", "cus_ada"]) == {
            "cus_ada": "ada@example.org"
        }
        assert search.customer_emails(session, []) == {}
