"""The seller's shared filters: a whole address is looked up as it is (in the search box, when it
is on file), anything else is matched anywhere, on SQLite and PostgreSQL alike."""

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
    condition = search.address_matches(Customer.email, text, anywhere=anywhere)
    with db.read_session() as session:
        return set(session.scalars(search.customers_matching(condition)))


def _searched(db: Database, text: str) -> set[str]:
    """The buyers the seller's search box finds for ``text``."""
    with db.read_session() as session:
        condition = search.seller_match(session, Customer.email, text)
        return set(session.scalars(search.customers_matching(condition)))


def test_a_whole_address_on_file_finds_that_address_only(buyers: Database) -> None:
    assert _searched(buyers, " Grace@Example.COM ") == {"cus_grace"}
    assert _ids(buyers, "grace@example.com", anywhere=False) == {"cus_grace"}


def test_a_whole_address_not_on_file_is_matched_anywhere(buyers: Database) -> None:
    """Part of a longer address that looks whole (``race@example.com``) finds the addresses
    that contain it; the API's exact filter finds none."""
    assert _searched(buyers, "race@example.com") == {"cus_grace", "cus_ungrace"}
    assert _searched(buyers, "nobody@example.com") == set()
    assert _ids(buyers, "race@example.com", anywhere=False) == set()


def test_part_of_an_address_is_matched_anywhere_when_asked(buyers: Database) -> None:
    def anywhere(text: str) -> set[str]:
        return _ids(buyers, text, anywhere=True)

    def searched(text: str) -> set[str]:
        return _searched(buyers, text)

    for found in (anywhere, searched):
        assert found("GRACE") == {"cus_grace", "cus_ungrace"}
        assert found("@example.com") == {"cus_grace", "cus_ungrace"}
        assert found("race@example") == {"cus_grace", "cus_ungrace"}
        assert found("a_b") == {"cus_under"}  # "_" is no wildcard
        assert found("%") == set()
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
