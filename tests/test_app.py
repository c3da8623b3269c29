"""Operations endpoints and the app's error contract."""

from __future__ import annotations

from fastapi.testclient import TestClient

from tests.factories import create_purchase, product_with_file


def test_healthz(client: TestClient) -> None:
    assert client.get("/healthz").json() == {"status": "ok"}


def test_openapi_and_docs(client: TestClient) -> None:
    spec = client.get("/openapi.json").json()
    assert "/api/download/{token}" in spec["paths"]
    assert "/api/admin/products/{ref}/file" in spec["paths"]
    assert client.get("/docs").status_code == 200


def test_metrics_count_downloads(admin: TestClient) -> None:
    product, data = product_with_file(admin)
    token = create_purchase(admin, product["slug"])["downloadLinks"][0]["token"]
    admin.get(f"/api/download/{token}")
    admin.get(f"/api/download/{token}", headers={"Range": "bytes=10-"})
    text = admin.get("/metrics").text
    assert 'shipkey_downloads_total{outcome="counted"} 1.0' in text
    assert 'shipkey_downloads_total{outcome="resumed"} 1.0' in text
    assert f"shipkey_uploaded_bytes_total {float(len(data))}" in text


def test_unknown_route_and_method_use_the_error_shape(client: TestClient) -> None:
    missing = client.get("/nope")
    assert missing.status_code == 404
    assert missing.json() == {"error": "Not Found", "code": "NOT_FOUND"}
    wrong = client.delete("/healthz")
    assert wrong.status_code == 405
    assert wrong.json()["code"] == "METHOD_NOT_ALLOWED"
