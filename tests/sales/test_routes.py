"""Admin purchase API: manual sales, lookup, refunds."""

from __future__ import annotations

from fastapi.testclient import TestClient

from tests.factories import create_product, create_purchase, product_with_file


def test_completed_purchase_is_fulfilled_at_once(admin: TestClient) -> None:
    product, _ = product_with_file(admin, maxDownloads=3)
    purchase = create_purchase(admin, product["slug"], name="Ada", locale="de", amount=500)
    assert purchase["status"] == "COMPLETED"
    assert purchase["product"] == "test-book"
    assert purchase["deliveredAt"] is not None
    assert purchase["maxDownloads"] == 3
    assert purchase["downloadCount"] == 0
    assert purchase["amount"] == 500
    assert purchase["locale"] == "de"
    assert purchase["licenses"] == []
    assert len(purchase["downloadLinks"]) == 1
    link = purchase["downloadLinks"][0]
    assert link["downloadUrl"] == f"http://testserver/api/download/{link['token']}"
    fetched = admin.get(f"/api/admin/purchases/{purchase['id']}").json()
    assert len(fetched["downloads"]) == 1
    assert set(fetched["downloads"][0]) >= {
        "createdAt",
        "expiresAt",
        "downloadedAt",
        "ipAddress",
        "userAgent",
    }
    assert "downloadLinks" not in fetched


def test_pending_purchase_is_not_fulfilled(admin: TestClient) -> None:
    product, _ = product_with_file(admin)
    purchase = create_purchase(admin, product["slug"], status="PENDING")
    assert purchase["status"] == "PENDING"
    assert purchase["deliveredAt"] is None
    assert purchase["downloadLinks"] == []
    response = admin.post(f"/api/admin/purchases/{purchase['id']}/download-links")
    assert response.status_code == 409
    assert response.json()["code"] == "PURCHASE_NOT_COMPLETED"


def test_purchase_defaults_come_from_the_product(admin: TestClient) -> None:
    create_product(admin, price=1234, currency="USD", maxDownloads=9)
    purchase = create_purchase(admin, "test-book", email="Mixed.Case@Example.COM")
    assert purchase["amount"] == 1234
    assert purchase["currency"] == "USD"
    assert purchase["maxDownloads"] == 9
    assert purchase["email"] == "mixed.case@example.com"
    assert purchase["downloadLinks"] == []  # no file: nothing to link to


def test_bad_purchase_input(admin: TestClient) -> None:
    create_product(admin)
    for body in [
        {"product": "test-book", "email": "not-an-email"},
        {"product": "test-book"},
        {"product": "test-book", "email": "a@example.com", "status": "REFUNDED"},
        {"product": "test-book", "email": "a@example.com", "locale": "fr"},
        {"product": "test-book", "email": "a@example.com", "maxDownloads": -1},
    ]:
        response = admin.post("/api/admin/purchases", json=body)
        assert response.status_code == 422, body
    unknown = admin.post("/api/admin/purchases", json={"product": "nope", "email": "a@example.com"})
    assert unknown.status_code == 404
    assert unknown.json()["code"] == "PRODUCT_NOT_FOUND"
    missing = admin.get("/api/admin/purchases/pur_doesnotexist")
    assert missing.status_code == 404
    assert missing.json()["code"] == "PURCHASE_NOT_FOUND"
    assert admin.get("/api/admin/purchases/" + "x" * 500).status_code == 404


def test_refund_ends_unused_links(admin: TestClient) -> None:
    product, _ = product_with_file(admin)
    purchase = create_purchase(admin, product["slug"])
    token = purchase["downloadLinks"][0]["token"]
    refunded = admin.post(f"/api/admin/purchases/{purchase['id']}/refund")
    assert refunded.status_code == 200
    body = refunded.json()
    assert body["status"] == "REFUNDED"
    assert body["refundedAt"] is not None
    assert body["downloads"][0]["revokedAt"] is not None
    response = admin.get(f"/api/download/{token}")
    assert response.status_code == 403
    assert response.json()["code"] == "PURCHASE_REFUNDED"
    again = admin.post(f"/api/admin/purchases/{purchase['id']}/refund")
    assert again.status_code == 200
    new_link = admin.post(f"/api/admin/purchases/{purchase['id']}/download-links")
    assert new_link.status_code == 409


def test_pending_purchase_cannot_be_refunded(admin: TestClient) -> None:
    product, _ = product_with_file(admin)
    purchase = create_purchase(admin, product["slug"], status="PENDING")
    response = admin.post(f"/api/admin/purchases/{purchase['id']}/refund")
    assert response.status_code == 409
    assert response.json()["code"] == "INVALID_PURCHASE_STATE"


def test_same_buyer_twice_is_one_customer(admin: TestClient) -> None:
    create_product(admin)
    first = create_purchase(admin, "test-book", email="a@example.com")
    second = create_purchase(admin, "test-book", email="A@example.com")
    assert first["id"] != second["id"]
    from shipkey.db.engine import Database
    from shipkey.orders.models import Customer

    db: Database = admin.app.state.db  # type: ignore[attr-defined]
    with db.read_session() as s:
        assert s.query(Customer).count() == 1
