"""Admin product API and file uploads."""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from shipkey.catalog import service
from shipkey.storage import LocalStorage, Storage
from tests.factories import create_product, upload


def test_admin_api_needs_a_token(client: TestClient) -> None:
    response = client.get("/api/admin/products")
    assert response.status_code == 401
    assert response.json()["code"] == "UNAUTHORIZED"
    assert response.headers["www-authenticate"] == "Bearer"
    wrong = client.get("/api/admin/products", headers={"Authorization": "Bearer nope"})
    assert wrong.status_code == 401
    basic = client.get("/api/admin/products", headers={"Authorization": "Basic eDp5"})
    assert basic.status_code == 401


def test_create_product_with_every_field(admin: TestClient) -> None:
    body = {
        "name": "Pro Tool",
        "slug": "e-book-pro",
        "type": "LICENSE",
        "price": 4900,
        "currency": "usd",
        "description": "A tool.",
        "maxDownloads": 7,
        "linkTtlHours": 48,
        "licenseType": "SUBSCRIPTION",
        "maxActivations": 2,
        "keyPrefix": "pro",
        "stamp": True,
        "metadata": {"features": ["a", "b"], "courseSlug": "x"},
    }
    response = admin.post("/api/admin/products", json=body)
    assert response.status_code == 201, response.text
    product = response.json()
    assert product["id"].startswith("prod_")
    assert product["currency"] == "USD"
    assert product["keyPrefix"] == "PRO"
    assert product["licenseDays"] == 365
    assert product["maxDownloads"] == 7
    assert product["linkTtlHours"] == 48
    assert product["stamp"] is True
    assert product["metadata"] == {"features": ["a", "b"], "courseSlug": "x"}
    by_slug = admin.get("/api/admin/products/e-book-pro").json()
    by_id = admin.get(f"/api/admin/products/{product['id']}").json()
    assert by_slug == by_id == product
    assert [p["slug"] for p in admin.get("/api/admin/products").json()] == ["e-book-pro"]


def test_defaults(admin: TestClient) -> None:
    product = create_product(admin)
    assert product["currency"] == "EUR"
    assert product["maxDownloads"] == 5
    assert product["linkTtlHours"] == 24
    assert product["maxActivations"] == 3
    assert product["licenseType"] is None
    trial = create_product(admin, slug="trial", type="LICENSE", licenseType="TRIAL")
    assert trial["licenseDays"] == 14
    perpetual = create_product(admin, slug="perp", type="LICENSE")
    assert perpetual["licenseType"] == "PERPETUAL"
    assert perpetual["licenseDays"] is None


def test_duplicate_slug_is_a_conflict(admin: TestClient) -> None:
    create_product(admin)
    response = admin.post("/api/admin/products", json={"name": "x", "slug": "test-book"})
    assert response.status_code == 409
    assert response.json()["code"] == "SLUG_TAKEN"


def test_bad_product_input_gets_a_clear_error(admin: TestClient) -> None:
    cases = [
        {"name": "x", "slug": "Not A Slug"},
        {"name": "x", "slug": "ok", "type": "BOOK"},
        {"name": "x", "slug": "ok", "price": -1},
        {"name": "x", "slug": "ok", "keyPrefix": "TOOLONG"},
        {"name": "x", "slug": "ok", "currency": "E1R"},
        {"name": "x", "slug": "ok", "maxDownloads": 0},
        {"name": "x", "slug": "ok", "unknownField": 1},
        {"slug": "ok"},
        {"name": "", "slug": "ok"},
        {"name": "x", "slug": "ok", "metadata": "not an object"},
    ]
    for body in cases:
        response = admin.post("/api/admin/products", json=body)
        assert response.status_code == 422, (body, response.text)
        assert response.json()["code"] == "VALIDATION_ERROR"
        assert response.json()["error"]
    broken = admin.post(
        "/api/admin/products", content=b"{not json", headers={"Content-Type": "application/json"}
    )
    assert broken.status_code == 400
    assert broken.json()["code"] == "INVALID_JSON"
    assert admin.post("/api/admin/products", json=[1, 2]).status_code == 422


def test_update_product(admin: TestClient) -> None:
    create_product(admin)
    response = admin.patch("/api/admin/products/test-book", json={"price": 999, "name": "New"})
    assert response.status_code == 200
    assert response.json()["price"] == 999
    assert response.json()["name"] == "New"
    create_product(admin, slug="other")
    clash = admin.patch("/api/admin/products/other", json={"slug": "test-book"})
    assert clash.status_code == 409


def test_unknown_product_is_404(admin: TestClient) -> None:
    response = admin.get("/api/admin/products/nope")
    assert response.status_code == 404
    assert response.json()["code"] == "PRODUCT_NOT_FOUND"
    upload_missing = admin.put("/api/admin/products/nope/file?filename=a.pdf", content=b"x")
    assert upload_missing.status_code == 404


def test_upload_keeps_hash_type_and_name(admin: TestClient, storage: Storage) -> None:
    create_product(admin)
    data = os.urandom(3 * 1024 * 1024 + 17)
    name = 'Ünïcode Büch – Teil 1 "final".pdf'
    result = upload(admin, "test-book", data, filename=name, content_type="application/pdf")
    assert result == {
        "fileName": name,
        "fileSize": len(data),
        "fileMimeType": "application/pdf",
        "sha256": hashlib.sha256(data).hexdigest(),
    }
    product = admin.get("/api/admin/products/test-book").json()
    assert product["fileSha256"] == result["sha256"]


def test_upload_guesses_type_when_none_is_given(admin: TestClient) -> None:
    create_product(admin)
    result = upload(admin, "test-book", b"PK\x03\x04", filename="app.zip", content_type=None)
    assert result["fileMimeType"] == "application/zip"


def test_replacing_a_file_deletes_the_old_one(admin: TestClient, storage: Storage) -> None:
    from shipkey.db.engine import Database

    create_product(admin)
    upload(admin, "test-book", b"first")
    db: Database = admin.app.state.db  # type: ignore[attr-defined]
    from shipkey.catalog.models import Product

    with db.read_session() as s:
        old_key = s.query(Product).one().file_key
    assert old_key is not None
    assert storage.exists(old_key)
    upload(admin, "test-book", b"second")
    assert not storage.exists(old_key)


def test_hostile_file_names(admin: TestClient, storage: Storage) -> None:
    create_product(admin)
    evil = {
        "../../etc/passwd": "passwd",
        "..\\..\\boot.ini": "boot.ini",
        "a\r\nSet-Cookie: x=1.pdf": "aSet-Cookie: x=1.pdf",
        "/abs/path/file.pdf": "file.pdf",
    }
    for raw, expected in evil.items():
        result = upload(admin, "test-book", b"data", filename=raw)
        assert result["fileName"] == expected
    for bad in ["..", "/", "", "\r\n"]:
        response = admin.put(
            "/api/admin/products/test-book/file", params={"filename": bad}, content=b"x"
        )
        assert response.status_code == 400, bad
        assert response.json()["code"] == "INVALID_FILENAME"
    missing = admin.put("/api/admin/products/test-book/file", content=b"x")
    assert missing.json()["code"] == "INVALID_FILENAME"


def test_bad_content_type_is_refused(admin: TestClient) -> None:
    create_product(admin)
    response = admin.put(
        "/api/admin/products/test-book/file?filename=a.pdf",
        content=b"x",
        headers={"Content-Type": "not a type"},
    )
    assert response.status_code == 400
    assert response.json()["code"] == "INVALID_MIME_TYPE"


def test_huge_json_bodies_are_refused(admin: TestClient) -> None:
    big = b'{"name": "' + b"x" * (2 * 1024 * 1024) + b'", "slug": "big"}'
    response = admin.post(
        "/api/admin/products", content=big, headers={"Content-Type": "application/json"}
    )
    assert response.status_code == 413
    assert response.json()["code"] == "PAYLOAD_TOO_LARGE"

    def chunks() -> Iterator[bytes]:
        yield b'{"name": "'
        for _ in range(40):
            yield b"x" * 65536
        yield b'", "slug": "big"}'

    chunked = admin.post(
        "/api/admin/products", content=chunks(), headers={"Content-Type": "application/json"}
    )
    assert chunked.status_code == 413
    assert chunked.json()["code"] == "PAYLOAD_TOO_LARGE"


def _stored_files(storage: Storage) -> list[str]:
    assert isinstance(storage, LocalStorage)
    return sorted(str(path) for path in storage.root.rglob("*") if path.is_file())


def _assert_too_large(response: object) -> None:
    assert response.status_code == 413, response.text  # type: ignore[attr-defined]
    assert response.json()["code"] == "PAYLOAD_TOO_LARGE"  # type: ignore[attr-defined]


@pytest.mark.parametrize("settings_overrides", [{"max_upload_bytes": 1000}])
def test_uploads_over_the_maximum_size_are_refused_and_leave_nothing(
    admin: TestClient, storage: Storage
) -> None:
    create_product(admin)
    kept = upload(admin, "test-book", b"k" * 1000)  # exactly the maximum is fine
    before = _stored_files(storage)
    url = "/api/admin/products/test-book/file?filename=big.pdf"
    _assert_too_large(admin.put(url, content=b"x" * 1001))  # declared by Content-Length

    def chunks() -> Iterator[bytes]:
        for _ in range(8):
            yield b"y" * 300

    _assert_too_large(admin.put(url, content=chunks()))  # counted as it arrives
    assert _stored_files(storage) == before
    assert admin.get("/api/admin/products/test-book").json()["fileSha256"] == kept["sha256"]


@pytest.mark.parametrize(
    ("header", "declared"),
    [
        ("1000", 1000),
        (" 12 ", 12),
        (None, None),
        ("²", None),
        ("٣", None),
        ("１", None),
        ("1_0", None),
        ("-1", None),
        ("+5", None),
    ],
)
def test_a_declared_length_is_ascii_digits_only(header: str | None, declared: int | None) -> None:
    """``"²".isdigit()`` is true and ``int("²")`` fails: only ASCII digits declare a length,
    anything else is none (the body is then counted as it arrives)."""
    assert service.declared_length(header) == declared
