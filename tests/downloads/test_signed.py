"""Stateless signed URLs: made by the admin API, checked in constant time."""

from __future__ import annotations

from datetime import timedelta
from urllib.parse import parse_qs, urlsplit

from fastapi.testclient import TestClient

from shipkey.clock import utcnow
from shipkey.config import Settings
from shipkey.downloads import signed
from tests.factories import create_product, product_with_file


def _path(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.path}?{parts.query}"


def test_signed_url_serves_the_file(admin: TestClient, client: TestClient) -> None:
    product, data = product_with_file(admin)
    response = admin.post("/api/admin/signed-urls", json={"product": "test-book", "expiresIn": 60})
    assert response.status_code == 201
    body = response.json()
    assert body["url"].startswith("http://testserver/api/signed/products/")
    download = client.get(_path(body["url"]))
    assert download.status_code == 200
    assert download.content == data
    assert download.headers["cache-control"] == "no-store"
    assert "filename*=UTF-8''book.pdf" in download.headers["content-disposition"]
    # not counted, reusable, and resumable
    part = client.get(_path(body["url"]), headers={"Range": "bytes=5-9"})
    assert part.status_code == 206
    assert part.content == data[5:10]


def test_tampered_signed_urls_are_403(admin: TestClient, client: TestClient) -> None:
    product_with_file(admin)
    url = admin.post("/api/admin/signed-urls", json={"product": "test-book"}).json()["url"]
    parts = urlsplit(url)
    query = parse_qs(parts.query)
    expires, sig = query["expires"][0], query["sig"][0]
    flipped = sig[:-1] + ("0" if sig[-1] != "0" else "1")
    cases = [
        f"{parts.path}?expires={expires}&sig={flipped}",
        f"{parts.path}?expires={int(expires) + 1}&sig={sig}",
        f"{parts.path}x?expires={expires}&sig={sig}",
        f"{parts.path}?expires={expires}",
        f"{parts.path}?sig={sig}",
        f"{parts.path}",
        f"{parts.path}?expires=abc&sig={sig}",
        f"{parts.path}?expires={expires}&sig=zz",
        f"{parts.path}?expires={'9' * 400}&sig={sig}",
        f"{parts.path}?expires={expires}&sig={sig.upper()}",
        # digits that str.isdigit() accepts and int() refuses, or reads as other numbers
        f"{parts.path}?expires=²&sig={sig}",
        f"{parts.path}?expires={expires}⁵&sig={sig}",
        f"{parts.path}?expires=٣{expires}&sig={sig}",
        f"{parts.path}?expires={expires.replace('1', '１')}&sig={sig}",
        f"{parts.path}?expires=+{expires}&sig={sig}",
        f"{parts.path}?expires={expires[:1]}_{expires[1:]}&sig={sig}",
    ]
    for path in cases:
        response = client.get(path)
        assert response.status_code == 403, path
        assert response.json()["code"] == "INVALID_SIGNATURE"


def test_expired_signed_url_is_410(
    admin: TestClient, client: TestClient, settings: Settings
) -> None:
    product_with_file(admin)
    key = admin.get("/api/admin/products/test-book").json()
    from shipkey.catalog.models import Product
    from shipkey.db.engine import Database

    db: Database = admin.app.state.db  # type: ignore[attr-defined]
    with db.read_session() as s:
        file_key = s.query(Product).one().file_key
    assert file_key is not None
    assert key["fileName"] == "book.pdf"
    url = signed.signed_url(
        settings.secret, settings.base_url, file_key, utcnow() - timedelta(seconds=5)
    )
    response = client.get(_path(url))
    assert response.status_code == 410
    assert response.json()["code"] == "LINK_EXPIRED"


def test_signed_url_needs_a_file_and_a_sane_expiry(admin: TestClient) -> None:
    create_product(admin)
    no_file = admin.post("/api/admin/signed-urls", json={"product": "test-book"})
    assert no_file.status_code == 409
    assert no_file.json()["code"] == "NO_FILE"
    for expires_in in [0, -5, 10**9, "soon"]:
        response = admin.post(
            "/api/admin/signed-urls", json={"product": "test-book", "expiresIn": expires_in}
        )
        assert response.status_code == 422
    missing = admin.post("/api/admin/signed-urls", json={"product": "nope"})
    assert missing.status_code == 404


def test_signed_url_of_a_replaced_file_is_gone(admin: TestClient, client: TestClient) -> None:
    from tests.factories import upload

    product_with_file(admin)
    url = admin.post("/api/admin/signed-urls", json={"product": "test-book"}).json()["url"]
    upload(admin, "test-book", b"new content")
    response = client.get(_path(url))
    assert response.status_code == 404
    assert response.json()["code"] == "FILE_NOT_FOUND"
