"""Reading Stripe objects: what is not the expected type or range is None, never an error."""

from __future__ import annotations

from datetime import UTC, datetime

from shipkey.payments import stripe_objects as so
from tests.payments.stripe_objects import checkout_session, invoice


def test_values_of_the_wrong_type_or_range_read_as_none() -> None:
    assert [so.text(v) for v in ("cs_1", "", "x" * 256, 7, None)] == ["cs_1", *[None] * 4]
    assert [so.integer(v) for v in (3, True, "3", 3.0)] == [3, None, None, None]
    assert [so.amount(v) for v in (0, 1900, -1, 2**31)] == [0, 1900, None, None]
    assert [so.currency(v) for v in ("eur", "EUR", "eu", "€ur", "e1r", 978)] == [
        "EUR",
        "EUR",
        None,
        None,
        None,
        None,
    ]
    assert so.timestamp(1_700_000_000) == datetime(2023, 11, 14, 22, 13, 20, tzinfo=UTC)
    assert [so.timestamp(v) for v in (0, -5, 10**12, "1700000000")] == [None] * 4
    assert so.mapping([1]) == {}


def test_an_id_is_read_whether_it_is_expanded_or_not() -> None:
    assert so.ref("pi_1") == so.ref({"id": "pi_1", "object": "payment_intent"}) == "pi_1"
    assert so.ref({"object": "payment_intent"}) is None


def test_the_buyer_of_a_checkout_session() -> None:
    obj = checkout_session(product="pixel-forge", email="Buyer@Example.com")
    assert so.buyer_email(obj) == "Buyer@example.com"
    obj["customer_details"] = {"email": "not an address", "name": "N" * 230}
    obj["customer_email"] = "fallback@example.com"
    assert so.buyer_email(obj) == "fallback@example.com"
    assert so.buyer_name(obj) == "N" * 200
    assert so.buyer_email({"customer_details": "nope"}) is None


def test_the_ids_a_checkout_session_gives_its_purchase() -> None:
    obj = checkout_session(product="pixel-forge")
    obj.update(payment_intent={"id": "pi_1"}, subscription=None, customer="cus_1")
    assert so.session_ids(obj) == {
        "stripe_checkout_session_id": obj["id"],
        "stripe_payment_intent_id": "pi_1",
        "stripe_subscription_id": None,
        "stripe_customer_id": "cus_1",
    }


def test_the_subscription_and_period_of_an_invoice() -> None:
    obj = invoice("sub_1", 1_800_000_000, metadata={"purchaseId": "pur_1"})
    assert so.invoice_subscription(obj) == ("sub_1", {"purchaseId": "pur_1"})
    assert so.invoice_period_end(obj) == datetime.fromtimestamp(1_800_000_000, UTC)
    obj["lines"]["data"] = []
    obj["period_end"] = 1_700_000_000
    assert so.invoice_period_end(obj) == datetime.fromtimestamp(1_700_000_000, UTC)
    older = {"subscription": {"id": "sub_2"}, "lines": {"data": [{"metadata": {"a": "b"}}]}}
    assert so.invoice_subscription(older) == ("sub_2", {"a": "b"})
