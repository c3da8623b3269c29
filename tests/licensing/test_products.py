"""A key works only for its own product when the software names the product it expects."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient

from shipkey.db.engine import Database
from tests.licensing.helpers import activate, buy, count_queries, licensed_product, validate


@pytest.fixture
def cheap_key(admin: TestClient) -> str:
    licensed_product(admin, name="Pixel Lite", slug="pixel-lite", price=100)
    licensed_product(admin, name="Pixel Studio", slug="pixel-studio", price=99_900)
    return buy(admin, "pixel-lite")[1]


def _file(client: TestClient, key: str, machine: str, **extra: Any) -> Any:
    return client.post(
        "/api/licenses/file", json={"licenseKey": key, "machineId": machine, **extra}
    )


def test_a_key_of_another_product_is_refused_by_every_endpoint(
    client: TestClient, cheap_key: str
) -> None:
    refused = activate(client, cheap_key, "m1", product="pixel-studio")
    assert (refused.status_code, refused.json()["code"]) == (403, "PRODUCT_MISMATCH")
    answer = client.post(
        "/api/licenses/validate", json={"licenseKey": cheap_key, "product": "pixel-studio"}
    )
    assert answer.status_code == 200
    assert answer.json() == {"valid": False, "code": "PRODUCT_MISMATCH", "license": None}
    assert activate(client, cheap_key, "m1", product="pixel-lite").status_code == 200
    mismatch = _file(client, cheap_key, "m1", product="pixel-studio")
    assert (mismatch.status_code, mismatch.json()["code"]) == (403, "PRODUCT_MISMATCH")
    assert validate(client, cheap_key, "m1")["code"] == "VALID"  # product not named: any


def test_the_right_product_is_accepted(client: TestClient, cheap_key: str) -> None:
    body = activate(client, cheap_key, "m1", product="pixel-lite").json()
    assert body["license"]["productName"] == "Pixel Lite"
    answer = client.post(
        "/api/licenses/validate",
        json={"licenseKey": cheap_key, "machineId": "m1", "product": "pixel-lite"},
    ).json()
    assert (answer["valid"], answer["code"]) == (True, "VALID")
    assert _file(client, cheap_key, "m1", product="pixel-lite").status_code == 200


def test_the_product_check_is_part_of_the_one_validation_read(
    client: TestClient, db: Database, cheap_key: str
) -> None:
    body = {"licenseKey": cheap_key, "product": "pixel-studio"}
    with count_queries(db.engine) as statements:
        assert client.post("/api/licenses/validate", json=body).json()["code"] == (
            "PRODUCT_MISMATCH"
        )
    assert len(statements) == 1


@pytest.mark.parametrize("product", ["", "p" * 65, 5, ["pixel-lite"]])
def test_a_bad_product_is_a_validation_error(
    client: TestClient, cheap_key: str, product: object
) -> None:
    for path, extra in [
        ("/api/licenses/validate", {}),
        ("/api/licenses/activate", {"machineId": "m1"}),
        ("/api/licenses/file", {"machineId": "m1"}),
    ]:
        answer = client.post(path, json={"licenseKey": cheap_key, "product": product, **extra})
        assert (answer.status_code, answer.json()["code"]) == (422, "VALIDATION_ERROR"), path
