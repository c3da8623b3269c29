"""The admin lists of purchases, licenses and buyers: cursor paging, filters, refusals."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.factories import create_product, create_purchase


def _walk(admin: TestClient, path: str, **params: Any) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = []
    cursor = None
    while True:
        query = {**params, **({"cursor": cursor} if cursor else {})}
        answer = admin.get(path, params=query)
        assert answer.status_code == 200, answer.text
        page = answer.json()
        items.extend(page["items"])
        cursor = page["nextCursor"]
        if cursor is None:
            return items


def _licensed(admin: TestClient, slug: str = "app") -> dict[str, Any]:
    return create_product(admin, name="App", slug=slug, type="LICENSE", licenseType="PERPETUAL")


def test_purchases_page_newest_first_and_inserts_shift_nothing(admin: TestClient) -> None:
    product = _licensed(admin)
    made = [create_purchase(admin, product["slug"], email=f"b{i}@example.com") for i in range(7)]
    first = admin.get("/api/admin/purchases", params={"limit": 3}).json()
    assert [item["id"] for item in first["items"]] == [p["id"] for p in made[::-1][:3]]
    # Purchases made while paging are newer than every page: the next pages do not move.
    create_purchase(admin, product["slug"], email="late@example.com")
    rest = _walk(admin, "/api/admin/purchases", limit=3, cursor=first["nextCursor"])
    seen = [item["id"] for item in first["items"] + rest]
    assert seen == [p["id"] for p in made[::-1]]
    item = first["items"][0]
    single = admin.get(f"/api/admin/purchases/{item['id']}").json()
    assert item == single
    assert item["licenses"][0]["key"]


def test_purchase_filters(admin: TestClient) -> None:
    app = _licensed(admin)
    book = create_product(admin, name="Book", slug="book", type="DOWNLOAD")
    a = create_purchase(admin, app["slug"], email="Ada@Example.com")
    b = create_purchase(admin, book["slug"], email="bob@example.com", status="PENDING")
    c = create_purchase(admin, book["id"], email="ada@example.com")

    def ids(**params: Any) -> list[str]:
        return [item["id"] for item in _walk(admin, "/api/admin/purchases", **params)]

    assert ids(email="ADA@example.com") == [c["id"], a["id"]]
    assert ids(status="PENDING") == [b["id"]]
    assert ids(product="book") == [c["id"], b["id"]]
    assert ids(product=book["id"], status="COMPLETED") == [c["id"]]
    assert ids(product="nothing-like-it") == []
    assert ids(createdAfter=b["createdAt"]) == [c["id"], b["id"]]
    assert ids(createdBefore=b["createdAt"]) == [a["id"]]
    assert ids(createdAfter="2000-01-01T00:00:00", createdBefore="2000-01-02") == []


@pytest.mark.parametrize(
    ("path", "params"),
    [
        ("/api/admin/purchases", {"status": "PAID"}),
        ("/api/admin/purchases", {"createdAfter": "yesterday"}),
        ("/api/admin/purchases", {"createdBefore": "0.5"}),
        ("/api/admin/purchases", {"createdAfter": "1700000000"}),
        ("/api/admin/purchases", {"limit": 0}),
        ("/api/admin/purchases", {"limit": 101}),
        ("/api/admin/licenses", {"status": "active"}),
        ("/api/admin/customers", {"limit": "many"}),
    ],
)
def test_bad_filters_are_refused(admin: TestClient, path: str, params: dict[str, Any]) -> None:
    answer = admin.get(path, params=params)
    assert answer.status_code == 422
    assert answer.json()["code"] == "VALIDATION_ERROR"


@pytest.mark.parametrize(
    "path", ["/api/admin/purchases", "/api/admin/licenses", "/api/admin/customers"]
)
@pytest.mark.parametrize("cursor", ["bm90LWEtY3Vyc29y", "x", "MjAyNi0xMi0wNXxwdXJfMQ"])
def test_a_cursor_not_given_out_is_refused(admin: TestClient, path: str, cursor: str) -> None:
    answer = admin.get(path, params={"cursor": cursor})
    assert answer.status_code == 400
    assert answer.json()["code"] == "INVALID_CURSOR"


def test_lists_need_the_admin_token(client: TestClient) -> None:
    for path in ("/api/admin/purchases", "/api/admin/licenses", "/api/admin/customers"):
        assert client.get(path).status_code == 401


def test_licenses_list_and_filters(admin: TestClient) -> None:
    app = _licensed(admin)
    other = _licensed(admin, "other")
    keys = [
        create_purchase(admin, app["slug"], email="ada@example.com")["licenses"][0]["key"],
        create_purchase(admin, other["slug"], email="bob@example.com")["licenses"][0]["key"],
        create_purchase(admin, app["slug"], email="bob@example.com")["licenses"][0]["key"],
    ]
    revoked = admin.post(f"/api/admin/licenses/{keys[0]}/revoke")
    assert revoked.status_code == 200
    every = _walk(admin, "/api/admin/licenses", limit=2)
    assert [item["key"] for item in every] == keys[::-1]
    assert set(every[0]) == {
        "key",
        "status",
        "product",
        "email",
        "activations",
        "maxActivations",
        "expiresAt",
        "createdAt",
    }
    assert every[0]["product"] == "app"
    assert every[0]["email"] == "bob@example.com"

    def keys_of(**params: Any) -> list[str]:
        return [item["key"] for item in _walk(admin, "/api/admin/licenses", **params)]

    assert keys_of(status="REVOKED") == [keys[0]]
    assert keys_of(product="app") == [keys[2], keys[0]]
    assert keys_of(email="BOB@example.com") == [keys[2], keys[1]]
    assert keys_of(email="bob@example.com", product="other") == [keys[1]]
    assert keys_of(email="nobody@example.com") == []


def test_customers_list_and_detail(admin: TestClient) -> None:
    app = _licensed(admin)
    first = create_purchase(admin, app["slug"], email="ada@example.com", name="Ada")
    create_purchase(admin, app["slug"], email="bob@example.com")
    second = create_purchase(admin, app["slug"], email="ada@example.com")
    every = _walk(admin, "/api/admin/customers", limit=1)
    assert [c["email"] for c in every] == ["bob@example.com", "ada@example.com"]
    ada = _walk(admin, "/api/admin/customers", email="ADA@example.com")
    assert len(ada) == 1
    assert ada[0]["name"] == "Ada"
    assert [p["id"] for p in ada[0]["purchases"]] == [second["id"], first["id"]]
    detail = admin.get(f"/api/admin/customers/{ada[0]['id']}")
    assert detail.status_code == 200
    assert detail.json() == ada[0]
    assert set(detail.json()) == {"id", "email", "name", "locale", "createdAt", "purchases"}
    missing = admin.get("/api/admin/customers/cus_nobody")
    assert missing.status_code == 404
    assert missing.json()["code"] == "CUSTOMER_NOT_FOUND"


def test_an_empty_key_pool_body_adds_no_key(admin: TestClient) -> None:
    product = admin.post(
        "/api/admin/products",
        json={"name": "App", "slug": "pool-app", "type": "LICENSE", "licenseType": "PERPETUAL"},
    )
    assert product.status_code == 201, product.text
    answer = admin.post(
        "/api/admin/products/pool-app/key-pool",
        content=b"",
        headers={"Content-Type": "text/plain"},
    )
    assert answer.status_code == 200, answer.text
    assert answer.json() == {"added": 0, "duplicates": 0, "available": 0}
