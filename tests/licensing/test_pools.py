"""Key pools: keys handed out in order, a sale that waits for a key, parallel sales."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from shipkey.db.engine import Database
from shipkey.mail.models import MailMessage
from tests.conftest import ADMIN_TOKEN
from tests.factories import create_product, create_purchase


@pytest.fixture
def settings_overrides() -> dict[str, Any]:
    return {"admin_email": "seller@example.com"}


def _app(admin: TestClient, slug: str = "app") -> dict[str, Any]:
    return create_product(admin, name="App", slug=slug, type="LICENSE", licenseType="PERPETUAL")


def _add(admin: TestClient, product: str, text: str) -> dict[str, Any]:
    answer = admin.post(
        f"/api/admin/products/{product}/key-pool",
        content=text.encode(),
        headers={"Content-Type": "text/plain"},
    )
    assert answer.status_code == 200, answer.text
    result: dict[str, Any] = answer.json()
    return result


def _mails(db: Database) -> list[MailMessage]:
    with db.read_session() as session:
        return list(session.scalars(select(MailMessage).order_by(MailMessage.created_at)))


def test_a_pool_hands_out_its_keys_in_order(admin: TestClient, client: TestClient) -> None:
    _app(admin)
    assert admin.get("/api/admin/products/app/key-pool").json() == {"available": 0}
    added = _add(admin, "app", "pool-key-1\n\n  pool-key-2  \npool-key-1\r\nPOOL-key-3\n")
    assert added == {"added": 3, "duplicates": 1, "available": 3}
    again = _add(admin, "app", "pool-key-2\n")
    assert again == {"added": 0, "duplicates": 1, "available": 3}
    keys = [create_purchase(admin, "app")["licenses"][0]["key"] for _ in range(3)]
    assert keys == ["pool-key-1", "pool-key-2", "POOL-key-3"]
    assert admin.get("/api/admin/products/app/key-pool").json() == {"available": 0}
    answer = client.post("/api/licenses/validate", json={"licenseKey": "pool-key-2"})
    assert answer.json()["code"] == "VALID"
    assert (
        client.post(
            "/api/licenses/activate", json={"licenseKey": "POOL-key-3", "machineId": "m"}
        ).status_code
        == 200
    )
    # A product without a pool still generates keys.
    _app(admin, "other")
    assert create_purchase(admin, "other")["licenses"][0]["key"].startswith("OTH-")


def test_with_the_pool_empty_the_sale_waits_and_gets_its_key_by_mail(
    admin: TestClient, db: Database
) -> None:
    _app(admin)
    _add(admin, "app", "only-key\n")
    create_purchase(admin, "app", email="first@example.com")
    waiting = create_purchase(admin, "app", email="second@example.com")
    assert waiting["status"] == "COMPLETED"
    assert waiting["licenses"] == []
    alerts = [m for m in _mails(db) if m.to_address == "seller@example.com"]
    assert len(alerts) == 1
    assert "App" in alerts[0].subject
    assert waiting["id"] in alerts[0].text_body
    added = _add(admin, "app", "late-key-1\nlate-key-2\n")
    assert added == {"added": 2, "duplicates": 0, "available": 1}
    filled = admin.get(f"/api/admin/purchases/{waiting['id']}").json()
    assert [lic["key"] for lic in filled["licenses"]] == ["late-key-1"]
    to_buyer = [m for m in _mails(db) if m.to_address == "second@example.com"]
    assert len(to_buyer) == 2  # the delivery without a key, then the key
    assert "late-key-1" in to_buyer[-1].text_body
    assert create_purchase(admin, "app")["licenses"][0]["key"] == "late-key-2"


def test_refused_key_pool_requests(admin: TestClient) -> None:
    create_product(admin, name="Book", slug="book", type="DOWNLOAD")
    assert admin.get("/api/admin/products/book/key-pool").status_code == 409
    assert admin.get("/api/admin/products/none/key-pool").status_code == 404
    answer = admin.post(
        "/api/admin/products/book/key-pool",
        content=b"k1\n",
        headers={"Content-Type": "text/plain"},
    )
    assert answer.status_code == 409
    assert answer.json()["code"] == "NO_LICENSE"
    _app(admin)
    refused = admin.post(
        "/api/admin/products/app/key-pool",
        content=b'["k1"]',
        headers={"Content-Type": "application/json"},
    )
    assert refused.status_code == 422, refused.text
    assert refused.json()["code"] == "VALIDATION_ERROR"
    # An empty text body is a list of no keys: nothing added, nothing refused.
    empty = admin.post(
        "/api/admin/products/app/key-pool", content=b"", headers={"Content-Type": "text/plain"}
    )
    assert empty.status_code == 200, empty.text
    assert empty.json() == {"available": 0, "added": 0, "duplicates": 0}


def test_parallel_sales_never_share_a_key(admin: TestClient, live_server: str) -> None:
    _app(admin)
    _add(admin, "app", "\n".join(f"parallel-{i:02d}" for i in range(6)))

    def buy(i: int) -> list[str]:
        answer = httpx.post(
            f"{live_server}/api/admin/purchases",
            json={"product": "app", "email": f"b{i}@example.com"},
            headers={"Authorization": f"Bearer {ADMIN_TOKEN}"},
            timeout=60,
        )
        assert answer.status_code == 201, answer.text
        return [lic["key"] for lic in answer.json()["licenses"]]

    with ThreadPoolExecutor(max_workers=10) as pool:
        results = list(pool.map(buy, range(10)))
    handed = [key for keys in results for key in keys]
    assert sorted(handed) == [f"parallel-{i:02d}" for i in range(6)]
    assert sum(1 for keys in results if not keys) == 4
    assert admin.get("/api/admin/products/app/key-pool").json() == {"available": 0}
