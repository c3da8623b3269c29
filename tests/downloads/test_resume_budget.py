"""A used link resumes until it expires, but sends at most the file's size in resumed bytes;
HEAD on a link that can still be used or resumed answers 200 and counts nothing."""

from __future__ import annotations

from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import update

from shipkey.clock import utcnow
from shipkey.db.engine import Database
from shipkey.downloads.models import Download
from tests.factories import create_purchase, product_with_file

pytestmark = pytest.mark.usefixtures("download_mode")

SIZE = 10_000


def _bought(admin: TestClient, **fields: Any) -> tuple[dict[str, Any], bytes, str]:
    product, data = product_with_file(admin, content=(bytes(range(256)) * 40)[:SIZE], **fields)
    assert len(data) == SIZE
    purchase = create_purchase(admin, product["slug"])
    return purchase, data, purchase["downloadLinks"][0]["token"]


def _count(admin: TestClient, purchase: dict[str, Any]) -> int:
    count: int = admin.get(f"/api/admin/purchases/{purchase['id']}").json()["downloadCount"]
    return count


def test_resumes_of_a_used_link_send_at_most_the_file_size(admin: TestClient) -> None:
    purchase, data, token = _bought(admin)
    url = f"/api/download/{token}"
    assert admin.get(url).status_code == 200
    # byte 0 of most formats is known: the rest may be fetched once more, not again and again
    again = admin.get(url, headers={"Range": "bytes=1-"})
    assert again.status_code == 206
    assert again.content == data[1:]
    over = admin.get(url, headers={"Range": "bytes=1-"})
    assert over.status_code == 410
    assert over.json()["code"] == "LINK_USED"
    # what is left of the budget (1 byte) can still be resumed, nothing more
    last = admin.get(url, headers={"Range": f"bytes={SIZE - 1}-"})
    assert last.status_code == 206
    assert last.content == data[-1:]
    gone = admin.get(url, headers={"Range": f"bytes={SIZE - 1}-"})
    assert gone.status_code == 410
    assert gone.json()["code"] == "LINK_USED"
    assert admin.head(url).status_code == 410  # nothing left to resume
    assert _count(admin, purchase) == 1


def test_parallel_resumes_share_one_budget(admin: TestClient, live_server: str) -> None:
    _, data, token = _bought(admin)
    url = f"{live_server}/api/download/{token}"
    assert admin.get(f"/api/download/{token}").status_code == 200
    half = SIZE // 2

    def resume(_: int) -> int:
        with httpx.Client(timeout=60, follow_redirects=True) as http:
            response = http.get(url, headers={"Range": f"bytes={half}-"})
            if response.status_code == 206:
                assert response.content == data[half:]
            return response.status_code

    with ThreadPoolExecutor(max_workers=20) as pool:
        statuses = Counter(pool.map(resume, range(20)))
    assert statuses == {206: 2, 410: 18}


def test_head_on_a_used_link_answers_while_it_can_be_resumed(admin: TestClient) -> None:
    purchase, _, token = _bought(admin)
    url = f"/api/download/{token}"
    before = admin.head(url)
    assert admin.get(url).status_code == 200
    head = admin.head(url)
    assert head.status_code == 200
    assert head.content == b""
    for name in ("content-disposition", "content-type", "etag", "referrer-policy"):
        assert head.headers[name] == before.headers[name]
    assert head.headers["content-length"] == str(SIZE)
    assert head.headers["accept-ranges"] == "bytes"
    assert head.headers["cache-control"] == "no-store"
    # HEAD counts nothing: the whole resume budget is still there
    assert admin.get(url, headers={"Range": "bytes=1-"}).status_code == 206
    assert _count(admin, purchase) == 1


def test_head_on_an_expired_used_link_is_410(admin: TestClient) -> None:
    _, _, token = _bought(admin)
    assert admin.get(f"/api/download/{token}").status_code == 200
    with admin.app.state.db.session() as s:  # type: ignore[attr-defined]
        s.execute(update(Download).values(expires_at=utcnow() - timedelta(seconds=1)))
    response = admin.head(f"/api/download/{token}")
    assert response.status_code == 410


def test_if_none_match_answers_304_without_counting(admin: TestClient) -> None:
    purchase, _, token = _bought(admin)
    url = f"/api/download/{token}"
    etag = admin.head(url).headers["etag"]
    for method in ("HEAD", "GET"):
        response = admin.request(method, url, headers={"If-None-Match": etag})
        assert response.status_code == 304, method
        assert response.headers["etag"] == etag
        assert response.content == b""
    assert _count(admin, purchase) == 0
    assert admin.get(url).status_code == 200
    assert admin.head(url, headers={"If-None-Match": f'W/{etag}, "x"'}).status_code == 304
    assert admin.get(url, headers={"Range": "bytes=1-"}).status_code == 206
    assert _count(admin, purchase) == 1


def test_download_answers_keep_tokens_from_leaking(admin: TestClient) -> None:
    """no-store and no-referrer on the file, its HEAD, its resumes and the redirect to S3."""
    _, _, token = _bought(admin)
    url = f"/api/download/{token}"
    answers = [admin.head(url)]
    with TestClient(admin.app, follow_redirects=False) as raw:
        answers.append(raw.get(url, headers=dict(admin.headers)))
    answers.append(admin.get(url, headers={"Range": "bytes=5-"}))
    for response in answers:
        assert response.status_code in (200, 206, 302), response.text
        assert response.headers["cache-control"] == "no-store"
        assert response.headers["referrer-policy"] == "no-referrer"


def test_signed_link_answers_keep_the_signature_from_leaking(admin: TestClient) -> None:
    product_with_file(admin)
    url = admin.post("/api/admin/signed-urls", json={"product": "test-book"}).json()["url"]
    path = url.removeprefix("http://testserver")
    with TestClient(admin.app, follow_redirects=False) as raw:  # redirect mode: the 302
        answers = [raw.get(path), raw.head(path)]
    for response in answers:
        assert response.status_code in (200, 302)
        assert response.headers["cache-control"] == "no-store"
        assert response.headers["referrer-policy"] == "no-referrer"


def test_the_budget_is_kept_per_link(admin: TestClient, db: Database) -> None:
    purchase, _, token = _bought(admin, maxDownloads=3)
    url = f"/api/download/{token}"
    assert admin.get(url).status_code == 200
    assert admin.get(url, headers={"Range": "bytes=1-"}).status_code == 206
    with db.read_session() as s:
        link = s.query(Download).one()
        assert link.resumed_bytes == SIZE - 1
    other = admin.post(f"/api/admin/purchases/{purchase['id']}/download-links").json()["token"]
    assert admin.get(f"/api/download/{other}").status_code == 200
    assert admin.get(f"/api/download/{other}", headers={"Range": "bytes=1-"}).status_code == 206
