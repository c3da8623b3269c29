"""GET /api/download/{token}: one link is one download, resumable, with the contract's codes."""

from __future__ import annotations

import hashlib
from datetime import timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import update

from shipkey.clock import utcnow
from shipkey.db.engine import Database
from shipkey.downloads.models import Download
from tests.factories import create_product, create_purchase, product_with_file, upload

pytestmark = pytest.mark.usefixtures("download_mode")


def _db(client: TestClient) -> Database:
    db: Database = client.app.state.db  # type: ignore[attr-defined]
    return db


def _bought(admin: TestClient, **fields: Any) -> tuple[dict[str, Any], bytes, str]:
    product, data = product_with_file(admin, **fields)
    purchase = create_purchase(admin, product["slug"])
    token = purchase["downloadLinks"][0]["token"]
    return purchase, data, token


def test_first_request_gets_the_file_with_the_contract_headers(admin: TestClient) -> None:
    purchase, data, token = _bought(admin)
    response = admin.get(f"/api/download/{token}", headers={"User-Agent": "TestAgent/1.0"})
    assert response.status_code == 200
    assert response.content == data
    headers = response.headers
    assert headers["content-type"] == "application/pdf"
    assert headers["content-length"] == str(len(data))
    assert headers["accept-ranges"] == "bytes"
    assert headers["cache-control"] == "no-store"
    assert headers["etag"].startswith('"')
    assert headers["content-disposition"] == (
        "attachment; filename=\"book.pdf\"; filename*=UTF-8''book.pdf"
    )
    record = admin.get(f"/api/admin/purchases/{purchase['id']}").json()
    assert record["downloadCount"] == 1
    assert record["downloads"][0]["downloadedAt"] is not None
    assert record["downloads"][0]["userAgent"] == "TestAgent/1.0"
    # in-process, or the loopback address of nginx in front of shipkey (x-accel)
    assert record["downloads"][0]["ipAddress"] in {"testclient", "127.0.0.1"}


@pytest.mark.parametrize(
    ("file_name", "declared"),
    [
        ("page.html", "text/html; charset=utf-8"),
        ("image.svg", "image/svg+xml"),
        ("page.xhtml", "application/xhtml+xml"),
        ("feed.xml", "text/xml"),
        ("page.html", None),  # guessed from the name
    ],
)
def test_a_seller_html_or_svg_file_never_renders_on_shipkeys_origin(
    admin: TestClient, client: TestClient, download_mode: str, file_name: str, declared: str | None
) -> None:
    create_product(admin)
    data = b"<html><script>alert(document.cookie)</script></html>"
    stored = upload(admin, "test-book", data, filename=file_name, content_type=declared)
    assert stored["fileMimeType"] != "application/octet-stream"  # the seller's type is kept
    token = create_purchase(admin, "test-book")["downloadLinks"][0]["token"]
    signed = admin.post("/api/admin/signed-urls", json={"product": "test-book"}).json()["url"]
    for url in (f"/api/download/{token}", signed.removeprefix("http://testserver")):
        for method in ("HEAD", "GET"):
            response = client.request(method, url)
            assert response.status_code == 200, (method, url, response.text)
            headers = response.headers
            assert headers["content-type"] == "application/octet-stream"
            assert headers["content-disposition"].startswith("attachment;")
            if download_mode != "redirect" or method == "HEAD":  # S3 answers the redirected GET
                assert headers["x-content-type-options"] == "nosniff"
                assert headers["content-security-policy"] == "default-src 'none'; sandbox"
            if method == "GET":
                assert response.content == data


def test_a_used_link_gives_410_but_resumes(admin: TestClient) -> None:
    purchase, data, token = _bought(admin)
    first = admin.get(f"/api/download/{token}")
    etag = first.headers["etag"]
    again = admin.get(f"/api/download/{token}")
    assert again.status_code == 410
    assert again.json()["code"] == "LINK_USED"
    zero = admin.get(f"/api/download/{token}", headers={"Range": "bytes=0-"})
    assert zero.status_code == 410
    resumed = admin.get(
        f"/api/download/{token}", headers={"Range": "bytes=1000-", "If-Range": etag}
    )
    assert resumed.status_code == 206
    assert resumed.content == data[1000:]
    assert resumed.headers["content-range"] == f"bytes 1000-{len(data) - 1}/{len(data)}"
    assert resumed.headers["content-length"] == str(len(data) - 1000)
    middle = admin.get(f"/api/download/{token}", headers={"Range": "bytes=10-19"})
    assert middle.status_code == 206
    assert middle.content == data[10:20]
    suffix = admin.get(f"/api/download/{token}", headers={"Range": "bytes=-5"})
    assert suffix.content == data[-5:]
    assert admin.get(f"/api/admin/purchases/{purchase['id']}").json()["downloadCount"] == 1


def test_if_range_with_another_etag_means_the_whole_file(admin: TestClient) -> None:
    _, _, token = _bought(admin)
    admin.get(f"/api/download/{token}")
    stale = admin.get(
        f"/api/download/{token}", headers={"Range": "bytes=100-", "If-Range": '"other"'}
    )
    assert stale.status_code == 410  # a full request on a used link
    assert stale.json()["code"] == "LINK_USED"


def test_first_request_may_be_a_range(admin: TestClient) -> None:
    purchase, data, token = _bought(admin)
    response = admin.get(f"/api/download/{token}", headers={"Range": "bytes=0-99"})
    assert response.status_code == 206
    assert response.content == data[:100]
    rest = admin.get(f"/api/download/{token}", headers={"Range": "bytes=100-"})
    assert rest.status_code == 206
    assert response.content + rest.content == data
    assert admin.get(f"/api/admin/purchases/{purchase['id']}").json()["downloadCount"] == 1


def test_unsatisfiable_range_is_416_and_not_counted(admin: TestClient) -> None:
    purchase, data, token = _bought(admin)
    response = admin.get(f"/api/download/{token}", headers={"Range": f"bytes={len(data)}-"})
    assert response.status_code == 416
    assert response.headers["content-range"] == f"bytes */{len(data)}"
    assert response.json()["code"] == "RANGE_NOT_SATISFIABLE"
    assert admin.get(f"/api/admin/purchases/{purchase['id']}").json()["downloadCount"] == 0
    # malformed or multiple ranges are ignored: the whole file, counted
    whole = admin.get(f"/api/download/{token}", headers={"Range": "bytes=0-1,5-9"})
    assert whole.status_code == 200
    assert whole.content == data


def test_head_does_not_count(admin: TestClient) -> None:
    purchase, data, token = _bought(admin)
    head = admin.head(f"/api/download/{token}")
    assert head.status_code == 200
    assert head.headers["content-length"] == str(len(data))
    assert head.content == b""
    assert admin.get(f"/api/admin/purchases/{purchase['id']}").json()["downloadCount"] == 0
    assert admin.get(f"/api/download/{token}").status_code == 200


def test_unicode_name_reaches_the_buyer(admin: TestClient) -> None:
    from tests.factories import create_product, upload

    create_product(admin)
    name = 'Ünïcode Büch – Teil 1 "final".pdf'
    upload(admin, "test-book", b"%PDF-1.4 data", filename=name)
    token = create_purchase(admin, "test-book")["downloadLinks"][0]["token"]
    response = admin.get(f"/api/download/{token}")
    assert response.headers["content-disposition"] == (
        'attachment; filename="Unicode Buch - Teil 1 _final_.pdf"; '
        "filename*=UTF-8''%C3%9Cn%C3%AFcode%20B%C3%BCch%20%E2%80%93%20Teil%201%20%22final%22.pdf"
    )


@pytest.mark.parametrize(
    "token",
    [
        "x",
        "a" * 42,
        "a" * 44,
        "a" * 10_000,
        "%00" * 20,
        "../../../etc/passwd",
        "abc def",
        "ÜÜÜÜÜÜÜÜÜÜÜÜÜÜÜÜÜÜÜÜÜÜÜÜÜÜÜÜÜÜÜÜÜÜÜÜÜÜÜÜÜÜÜ",
        "A" * 43,
    ],
)
def test_unknown_and_malformed_tokens_are_404(
    admin: TestClient, token: str, download_mode: str
) -> None:
    response = admin.get(f"/api/download/{token}")
    if download_mode == "x-accel" and "%00" in token:
        assert response.status_code == 400  # nginx refuses a NUL in the path itself
        return
    assert response.status_code == 404
    assert response.json()["code"] in {"LINK_NOT_FOUND", "NOT_FOUND"}


def test_tampered_token_is_404(admin: TestClient) -> None:
    _, _, token = _bought(admin)
    flipped = token[:-1] + ("A" if token[-1] != "A" else "B")
    response = admin.get(f"/api/download/{flipped}")
    assert response.status_code == 404
    assert response.json() == {
        "error": "This download link does not exist.",
        "code": "LINK_NOT_FOUND",
    }


def test_expired_link_is_410(admin: TestClient) -> None:
    _, _, token = _bought(admin)
    with _db(admin).session() as s:
        s.execute(update(Download).values(expires_at=utcnow() - timedelta(seconds=1)))
    response = admin.get(f"/api/download/{token}")
    assert response.status_code == 410
    assert response.json()["code"] == "LINK_EXPIRED"


def test_expired_link_cannot_be_resumed(admin: TestClient) -> None:
    _, _, token = _bought(admin)
    admin.get(f"/api/download/{token}")
    with _db(admin).session() as s:
        s.execute(update(Download).values(expires_at=utcnow() - timedelta(seconds=1)))
    response = admin.get(f"/api/download/{token}", headers={"Range": "bytes=10-"})
    assert response.status_code == 410
    assert response.json()["code"] == "LINK_EXPIRED"


def test_missing_file_in_storage_is_not_counted(admin: TestClient) -> None:
    purchase, _, token = _bought(admin)
    from shipkey.catalog.models import Product
    from shipkey.storage import Storage

    storage: Storage = admin.app.state.storage  # type: ignore[attr-defined]
    with _db(admin).read_session() as s:
        key = s.query(Product).one().file_key
    assert key is not None
    storage.delete(key)
    response = admin.get(f"/api/download/{token}")
    assert response.status_code == 404
    assert response.json()["code"] == "FILE_MISSING"
    assert admin.get(f"/api/admin/purchases/{purchase['id']}").json()["downloadCount"] == 0


def test_body_is_byte_identical_to_upload(admin: TestClient) -> None:
    _, data, token = _bought(admin)
    response = admin.get(f"/api/download/{token}")
    assert hashlib.sha256(response.content).hexdigest() == hashlib.sha256(data).hexdigest()
