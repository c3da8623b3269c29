"""Counting downloads: the limit, and counting under real parallel requests against a real
HTTP server."""

from __future__ import annotations

from collections import Counter
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from shipkey.config import Settings
from shipkey.db.engine import Database
from shipkey.downloads import links as downloads
from shipkey.downloads.models import Download
from shipkey.orders.models import Purchase
from tests.factories import create_purchase, new_link, product_with_file

pytestmark = pytest.mark.usefixtures("download_mode")

PARALLEL = 100


def _links(db: Database, settings: Settings, purchase_id: str, count: int) -> list[str]:
    with db.session() as session:
        purchase = session.get(Purchase, purchase_id)
        assert purchase is not None
        return [
            downloads.issue_link(session, purchase, settings.base_url).token for _ in range(count)
        ]


@pytest.mark.parametrize("left", [1, 7])
def test_parallel_first_requests_take_exactly_the_downloads_left(
    admin: TestClient, live_server: str, db: Database, settings: Settings, left: int
) -> None:
    product, data = product_with_file(admin, content=b"x" * 65_536, maxDownloads=left + 3)
    purchase = create_purchase(admin, product["slug"])
    # three downloads already used
    for _ in range(3):
        token = admin.post(f"/api/admin/purchases/{purchase['id']}/download-links").json()["token"]
        assert admin.get(f"/api/download/{token}").status_code == 200
    tokens = _links(db, settings, purchase["id"], PARALLEL)

    def fetch(token: str) -> tuple[int, str]:
        with httpx.Client(timeout=60, follow_redirects=True) as http:
            response = http.get(f"{live_server}/api/download/{token}")
            code = response.json()["code"] if response.status_code != 200 else ""
            if response.status_code == 200:
                assert response.content == data
            return response.status_code, code

    with ThreadPoolExecutor(max_workers=PARALLEL) as pool:
        results = list(pool.map(fetch, tokens))

    statuses = Counter(status for status, _ in results)
    assert statuses == {200: left, 403: PARALLEL - left}
    assert {code for status, code in results if status == 403} == {"DOWNLOAD_LIMIT_REACHED"}
    record = admin.get(f"/api/admin/purchases/{purchase['id']}").json()
    assert record["downloadCount"] == left + 3
    with db.read_session() as session:
        used = session.scalar(
            select(func.count())
            .select_from(Download)
            .where(Download.purchase_id == purchase["id"], Download.downloaded_at.is_not(None))
        )
    assert used == left + 3


def test_parallel_requests_on_one_link_count_once(
    admin: TestClient, live_server: str, db: Database, settings: Settings
) -> None:
    product, data = product_with_file(admin, content=b"y" * 10_000, maxDownloads=5)
    purchase = create_purchase(admin, product["slug"])
    token = purchase["downloadLinks"][0]["token"]

    def fetch(_: int) -> int:
        with httpx.Client(timeout=60, follow_redirects=True) as http:
            return http.get(f"{live_server}/api/download/{token}").status_code

    with ThreadPoolExecutor(max_workers=30) as pool:
        statuses = Counter(pool.map(fetch, range(30)))
    assert statuses == {200: 1, 410: 29}
    assert admin.get(f"/api/admin/purchases/{purchase['id']}").json()["downloadCount"] == 1


def test_download_limit(admin: TestClient) -> None:
    product, _ = product_with_file(admin, maxDownloads=2)
    purchase = create_purchase(admin, product["slug"])
    first = purchase["downloadLinks"][0]["token"]
    second = new_link(admin, str(purchase["id"]))
    spare = new_link(admin, str(purchase["id"]))
    assert admin.get(f"/api/download/{first}").status_code == 200
    assert admin.get(f"/api/download/{second}").status_code == 200
    over = admin.get(f"/api/download/{spare}")
    assert over.status_code == 403
    assert over.json()["code"] == "DOWNLOAD_LIMIT_REACHED"
    create = admin.post(f"/api/admin/purchases/{purchase['id']}/download-links")
    assert create.status_code == 409
    assert create.json()["code"] == "DOWNLOAD_LIMIT_REACHED"
    # a used link can still be resumed after the limit is reached
    assert admin.get(f"/api/download/{first}", headers={"Range": "bytes=5-"}).status_code == 206
    record = admin.get(f"/api/admin/purchases/{purchase['id']}").json()
    assert record["downloadCount"] == 2
    assert record["downloadsLeft"] == 0


def test_purchase_max_downloads_overrides_product(admin: TestClient) -> None:
    product, _ = product_with_file(admin, maxDownloads=5)
    purchase = create_purchase(admin, product["slug"], maxDownloads=1)
    token = purchase["downloadLinks"][0]["token"]
    assert admin.get(f"/api/download/{token}").status_code == 200
    assert admin.post(f"/api/admin/purchases/{purchase['id']}/download-links").status_code == 409
