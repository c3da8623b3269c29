"""Stamped products: every buyer downloads a personal copy, never the original."""

from __future__ import annotations

import io
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient
from pypdf import PdfReader
from sqlalchemy import select

from shipkey.config import Settings
from shipkey.db.engine import Database
from shipkey.downloads.copies import ensure_stamped
from shipkey.downloads.jobs import DISCARD_JOB, STAMP_JOB
from shipkey.downloads.models import StampedCopy
from shipkey.downloads.stamping import stamp_file as real_stamp
from shipkey.jobs import service as jobs_service
from shipkey.jobs.models import Job, JobStatus
from shipkey.jobs.worker import Worker
from shipkey.storage import Storage
from tests.conftest import ADMIN_TOKEN
from tests.downloads.books import make_epub, make_pdf
from tests.factories import create_product, create_purchase, new_link, upload

pytestmark = pytest.mark.usefixtures("download_mode")

PAGES = [f"Page {n} of the book" for n in range(1, 4)]


def _stamped_pdf_product(admin: TestClient) -> bytes:
    create_product(admin, stamp=True)
    original = make_pdf(PAGES)
    upload(admin, "test-book", original, filename="book.pdf", content_type="application/pdf")
    return original


def _buy(admin: TestClient, email: str = "ann@example.com", **fields: Any) -> dict[str, Any]:
    return create_purchase(admin, "test-book", email=email, name="Ann Buyer", **fields)


def _copy(db: Database, purchase_id: str) -> StampedCopy | None:
    with db.read_session() as session:
        return session.get(StampedCopy, purchase_id)


def _check_pdf(body: bytes, email: str) -> None:
    reader = PdfReader(io.BytesIO(body))
    assert len(reader.pages) == len(PAGES)
    for page, text in zip(reader.pages, PAGES, strict=True):
        extracted = page.extract_text()
        assert text in extracted
        assert email in extracted


def test_each_buyer_gets_a_personal_copy_built_by_the_worker(
    admin: TestClient, db: Database, settings: Settings, storage: Storage
) -> None:
    original = _stamped_pdf_product(admin)
    ann = _buy(admin)
    bob = _buy(admin, email="bob@example.com")
    with db.read_session() as session:
        jobs = session.scalars(select(Job).where(Job.kind == STAMP_JOB)).all()
        assert sorted(job.payload["purchase_id"] for job in jobs) == sorted([ann["id"], bob["id"]])
    Worker(settings, db, storage).run_once()
    with db.read_session() as session:
        statuses = session.scalars(select(Job.status).where(Job.kind == STAMP_JOB)).all()
        assert set(statuses) == {JobStatus.DONE}
    ann_copy = _copy(db, ann["id"])
    assert ann_copy is not None

    first = admin.get(f"/api/download/{ann['downloadLinks'][0]['token']}")
    assert first.status_code == 200
    assert first.content != original
    _check_pdf(first.content, "ann@example.com")
    assert first.headers["content-length"] == str(ann_copy.size)
    assert first.headers["content-type"] == "application/pdf"
    assert "bob@example.com" not in PdfReader(io.BytesIO(first.content)).pages[0].extract_text()
    other = admin.get(f"/api/download/{bob['downloadLinks'][0]['token']}")
    _check_pdf(other.content, "bob@example.com")
    # the worker's copy was served, not built again
    again = _copy(db, ann["id"])
    assert again is not None
    assert again.key == ann_copy.key


def test_a_download_before_the_worker_builds_the_copy_itself_and_resumes(
    admin: TestClient, db: Database
) -> None:
    _stamped_pdf_product(admin)
    purchase = _buy(admin)
    token = purchase["downloadLinks"][0]["token"]
    assert _copy(db, purchase["id"]) is None
    head = admin.get(f"/api/download/{token}", headers={"Range": "bytes=0-99"})
    assert head.status_code == 206
    etag = head.headers["etag"]
    rest = admin.get(f"/api/download/{token}", headers={"Range": "bytes=100-", "If-Range": etag})
    assert rest.status_code == 206
    _check_pdf(head.content + rest.content, "ann@example.com")
    assert admin.get(f"/api/admin/purchases/{purchase['id']}").json()["downloadCount"] == 1


def test_a_missing_copy_is_built_again(admin: TestClient, db: Database, storage: Storage) -> None:
    _stamped_pdf_product(admin)
    purchase = _buy(admin)
    admin.get(f"/api/download/{purchase['downloadLinks'][0]['token']}")
    copy = _copy(db, purchase["id"])
    assert copy is not None
    storage.delete(copy.key)
    again = admin.get(f"/api/download/{new_link(admin, purchase['id'])}")
    assert again.status_code == 200
    _check_pdf(again.content, "ann@example.com")
    rebuilt = _copy(db, purchase["id"])
    assert rebuilt is not None
    assert rebuilt.key != copy.key


def test_a_new_upload_makes_new_copies(admin: TestClient, db: Database) -> None:
    _stamped_pdf_product(admin)
    purchase = _buy(admin)
    admin.get(f"/api/download/{purchase['downloadLinks'][0]['token']}")
    upload(admin, "test-book", make_pdf(["New edition"]), filename="book.pdf")
    body = admin.get(f"/api/download/{new_link(admin, purchase['id'])}").content
    page = PdfReader(io.BytesIO(body)).pages[0].extract_text()
    assert "New edition" in page
    assert "ann@example.com" in page


def test_stamped_epub(admin: TestClient, tmp_path: Path) -> None:
    from ebooklib import epub  # type: ignore[import-untyped]

    source = tmp_path / "book.epub"
    make_epub(source, ["Once upon a time."])
    create_product(admin, stamp=True)
    upload(admin, "test-book", source.read_bytes(), "book.epub", "application/epub+zip")
    purchase = _buy(admin)
    response = admin.get(f"/api/download/{purchase['downloadLinks'][0]['token']}")
    assert response.status_code == 200
    target = tmp_path / "got.epub"
    target.write_bytes(response.content)
    book = epub.read_epub(str(target))
    assert "ann@example.com" in book.get_item_with_id("shipkey-license").get_content().decode()


def test_a_file_that_cannot_be_stamped_is_never_served(admin: TestClient) -> None:
    create_product(admin, stamp=True)
    upload(admin, "test-book", b"%PDF-1.7 not really a pdf", filename="book.pdf")
    purchase = _buy(admin)
    response = admin.get(f"/api/download/{purchase['downloadLinks'][0]['token']}")
    assert response.status_code == 503
    assert response.json()["code"] == "STAMPING_FAILED"
    assert admin.get(f"/api/admin/purchases/{purchase['id']}").json()["downloadCount"] == 0


def test_other_files_of_a_stamped_product_are_served_as_they_are(admin: TestClient) -> None:
    create_product(admin, stamp=True)
    upload(admin, "test-book", b"zip bytes", filename="tool.zip", content_type="application/zip")
    purchase = _buy(admin)
    response = admin.get(f"/api/download/{purchase['downloadLinks'][0]['token']}")
    assert response.status_code == 200
    assert response.content == b"zip bytes"


def test_a_missing_original_is_404_and_not_counted(admin: TestClient, storage: Storage) -> None:
    _stamped_pdf_product(admin)
    purchase = _buy(admin)
    key = admin.get("/api/admin/products/test-book").json()
    db: Database = admin.app.state.db  # type: ignore[attr-defined]
    from shipkey.catalog.models import Product

    with db.read_session() as session:
        file_key = session.query(Product).one().file_key
    assert file_key is not None
    assert key["fileName"] == "book.pdf"
    storage.delete(file_key)
    response = admin.get(f"/api/download/{purchase['downloadLinks'][0]['token']}")
    assert response.status_code == 404
    assert response.json()["code"] == "FILE_MISSING"
    assert admin.get(f"/api/admin/purchases/{purchase['id']}").json()["downloadCount"] == 0


def test_a_refund_deletes_the_personal_copy(
    admin: TestClient, db: Database, settings: Settings, storage: Storage
) -> None:
    _stamped_pdf_product(admin)
    ann = _buy(admin)
    bob = _buy(admin, email="bob@example.com")
    Worker(settings, db, storage).run_once()
    ann_copy, bob_copy = _copy(db, ann["id"]), _copy(db, bob["id"])
    assert ann_copy is not None
    assert bob_copy is not None
    assert storage.exists(ann_copy.key)

    assert admin.post(f"/api/admin/purchases/{ann['id']}/refund").status_code == 200
    assert admin.post(f"/api/admin/purchases/{ann['id']}/refund").status_code == 200  # twice
    Worker(settings, db, storage).run_once()

    assert _copy(db, ann["id"]) is None
    assert not storage.exists(ann_copy.key)
    assert _copy(db, bob["id"]) is not None  # the other buyer keeps theirs
    assert storage.exists(bob_copy.key)
    with db.read_session() as session:
        discards = session.scalars(select(Job).where(Job.kind == DISCARD_JOB)).all()
    assert [job.status for job in discards] == [JobStatus.DONE]
    # A build job that runs late makes no new copy for the refunded purchase.
    with db.session() as session:
        jobs_service.enqueue(session, STAMP_JOB, {"purchase_id": ann["id"]})
    Worker(settings, db, storage).run_once()
    assert _copy(db, ann["id"]) is None


def test_a_refund_while_the_copy_is_being_made_leaves_no_copy(
    admin: TestClient,
    db: Database,
    storage: Storage,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    _stamped_pdf_product(admin)
    ann = _buy(admin)
    saved: list[str] = []
    real_save = storage.save_file

    def save_and_remember(key: str, path: Path) -> Any:
        saved.append(key)
        return real_save(key, path)

    def stamp_then_refund(*args: Any) -> None:
        real_stamp(*args)
        refunded = admin.post(f"/api/admin/purchases/{ann['id']}/refund")
        assert refunded.status_code == 200

    monkeypatch.setattr(storage, "save_file", save_and_remember)
    monkeypatch.setattr("shipkey.downloads.copies.stamp_file", stamp_then_refund)
    assert ensure_stamped(db, storage, ann["id"]) is False
    assert _copy(db, ann["id"]) is None
    assert len(saved) == 1
    assert not storage.exists(saved[0])  # the copy made for nobody is deleted


def _slow_stamps(
    monkeypatch: pytest.MonkeyPatch,
) -> tuple[threading.Event, threading.Event, list[str]]:
    """Stamping that waits for ``release`` once it has ``started``; ``calls`` lists each build."""
    started, release = threading.Event(), threading.Event()
    calls: list[str] = []

    def slow_stamp(*args: Any) -> None:
        calls.append("built")
        started.set()
        release.wait(30)
        real_stamp(*args)

    monkeypatch.setattr("shipkey.downloads.copies.stamp_file", slow_stamp)
    return started, release, calls


def _get(url: str) -> httpx.Response:
    with httpx.Client(timeout=60, follow_redirects=True) as http:
        return http.get(url)


def test_writes_go_on_while_a_first_download_builds_its_copy(
    admin: TestClient, live_server: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    _stamped_pdf_product(admin)
    purchase = _buy(admin)
    started, release, _ = _slow_stamps(monkeypatch)
    with ThreadPoolExecutor(max_workers=1) as pool:
        download = pool.submit(
            _get, f"{live_server}/api/download/{purchase['downloadLinks'][0]['token']}"
        )
        try:
            assert started.wait(10)
            # A sale is written (as a Stripe webhook's would be) while the copy is being made.
            auth = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
            with httpx.Client(timeout=5, headers=auth) as http:
                sale = http.post(
                    f"{live_server}/api/admin/purchases",
                    json={"product": "test-book", "email": "bob@example.com"},
                )
            assert sale.status_code == 201
        finally:
            release.set()
        response = download.result()
    assert response.status_code == 200
    _check_pdf(response.content, "ann@example.com")
    assert admin.get(f"/api/admin/purchases/{purchase['id']}").json()["downloadCount"] == 1


def test_first_downloads_at_once_build_one_copy_and_each_count(
    admin: TestClient,
    live_server: str,
    db: Database,
    storage: Storage,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    _stamped_pdf_product(admin)
    purchase = _buy(admin)
    tokens = [purchase["downloadLinks"][0]["token"], new_link(admin, purchase["id"])]
    saved: list[str] = []
    real_save = storage.save_file

    def save_and_remember(key: str, path: Path) -> Any:
        saved.append(key)
        return real_save(key, path)

    monkeypatch.setattr(storage, "save_file", save_and_remember)
    started, release, calls = _slow_stamps(monkeypatch)
    with ThreadPoolExecutor(max_workers=2) as pool:
        first = pool.submit(_get, f"{live_server}/api/download/{tokens[0]}")
        try:
            assert started.wait(10)
            second = pool.submit(_get, f"{live_server}/api/download/{tokens[1]}")
            time.sleep(0.5)  # the second request reaches the copy that is being made
        finally:
            release.set()
        responses = [first.result(), second.result()]
    assert [response.status_code for response in responses] == [200, 200]
    for response in responses:
        _check_pdf(response.content, "ann@example.com")
    assert calls == ["built"]
    copy = _copy(db, purchase["id"])
    assert copy is not None
    assert [key for key in saved if key.startswith("stamped/")] == [copy.key]
    assert admin.get(f"/api/admin/purchases/{purchase['id']}").json()["downloadCount"] == 2
