"""Rows and files for tests, made through the real services."""

from __future__ import annotations

import hashlib
import os
from typing import Any

from fastapi.testclient import TestClient


def create_product(admin: TestClient, **fields: Any) -> dict[str, Any]:
    body: dict[str, Any] = {"name": "Test Book", "slug": "test-book", "type": "DOWNLOAD"}
    body.update(fields)
    response = admin.post("/api/admin/products", json=body)
    assert response.status_code == 201, response.text
    result: dict[str, Any] = response.json()
    return result


def upload(
    admin: TestClient,
    product: str,
    content: bytes,
    filename: str = "book.pdf",
    content_type: str | None = "application/pdf",
) -> dict[str, Any]:
    headers = {"Content-Type": content_type} if content_type else {}
    response = admin.put(
        f"/api/admin/products/{product}/file",
        params={"filename": filename},
        content=content,
        headers=headers,
    )
    assert response.status_code == 200, response.text
    result: dict[str, Any] = response.json()
    return result


def create_purchase(admin: TestClient, product: str, **fields: Any) -> dict[str, Any]:
    body: dict[str, Any] = {"product": product, "email": "buyer@example.com"}
    body.update(fields)
    response = admin.post("/api/admin/purchases", json=body)
    assert response.status_code == 201, response.text
    result: dict[str, Any] = response.json()
    return result


def product_with_file(
    admin: TestClient, content: bytes | None = None, **fields: Any
) -> tuple[dict[str, Any], bytes]:
    data = content if content is not None else os.urandom(256 * 1024 + 123)
    product = create_product(admin, **fields)
    upload(admin, product["slug"], data)
    return product, data


def new_link(admin: TestClient, purchase_id: str) -> str:
    response = admin.post(f"/api/admin/purchases/{purchase_id}/download-links")
    assert response.status_code == 201, response.text
    token: str = response.json()["token"]
    return token


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()
