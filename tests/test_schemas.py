"""Request bodies take JSON types as the OpenAPI document states them, and its patterns."""

from __future__ import annotations

import re

import email_validator
import pytest
from fastapi.testclient import TestClient
from pydantic import ValidationError

from shipkey.catalog.schemas import ProductCreate
from shipkey.orders.schemas import PurchaseCreate
from shipkey.schemas import EMAIL_PATTERN, FORM

PRODUCT = {"name": "Book", "slug": "book", "type": "DOWNLOAD"}


@pytest.mark.parametrize(
    "fields",
    [{"price": "5"}, {"price": True}, {"stamp": 0}, {"stamp": "true"}, {"currency": "ÄBC"}],
)
def test_a_value_of_another_json_type_is_refused(
    admin: TestClient, fields: dict[str, object]
) -> None:
    response = admin.post("/api/admin/products", json=PRODUCT | fields)
    assert response.status_code == 422, response.text
    assert response.json()["details"][0]["field"] == next(iter(fields))


def test_numbers_with_no_fraction_and_any_case_currency_are_taken(admin: TestClient) -> None:
    response = admin.post("/api/admin/products", json=PRODUCT | {"price": 500.0, "currency": "usd"})
    assert response.status_code == 201, response.text
    assert (response.json()["price"], response.json()["currency"]) == (500, "USD")


def test_a_form_gives_text_for_numbers_and_booleans() -> None:
    values = PRODUCT | {"price": "5", "maxDownloads": "3"}
    product = ProductCreate.model_validate(values, context=FORM)
    assert (product.price, product.max_downloads) == (5, 3)
    with pytest.raises(ValidationError):
        ProductCreate.model_validate(values)


@pytest.mark.parametrize("name", email_validator.SPECIAL_USE_DOMAIN_NAMES)
def test_the_email_pattern_states_what_the_validator_refuses(name: str) -> None:
    for address, expected in [(f"a@b.{name}", False), (f"a@{name.upper()}", False)]:
        assert bool(re.search(EMAIL_PATTERN, address)) is expected
        with pytest.raises(ValidationError):
            PurchaseCreate(product="book", email=address)
    assert re.search(EMAIL_PATTERN, "buyer@example.com")
    assert PurchaseCreate(product="book", email="buyer@example.com").email == "buyer@example.com"
