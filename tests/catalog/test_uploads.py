"""Resumable uploads: the admin API, ``shipkey files upload`` and ``shipkey files verify``."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from shipkey.cli import app
from shipkey.config import Settings
from shipkey.storage import Storage
from tests.conftest import ADMIN_TOKEN
from tests.factories import create_product, create_purchase

runner = CliRunner()
DATA = os.urandom(3 * 1024 * 1024 + 17)


def _open(admin: TestClient, **fields: Any) -> dict[str, Any]:
    body = {"fileName": "big.bin", "size": len(DATA), "sha256": hashlib.sha256(DATA).hexdigest()}
    body.update(fields)
    response = admin.post("/api/admin/products/test-book/uploads", json=body)
    assert response.status_code == 201, response.text
    result: dict[str, Any] = response.json()
    return result


def _put(admin: TestClient, upload_id: str, first: int, last: int) -> Any:
    return admin.put(
        f"/api/admin/uploads/{upload_id}",
        content=DATA[first : last + 1],
        headers={"Content-Range": f"bytes {first}-{last}/{len(DATA)}"},
    )


@pytest.mark.parametrize("settings_overrides", [{"max_upload_bytes": len(DATA) - 1}])
def test_a_resumable_upload_over_the_maximum_size_is_refused(
    admin: TestClient, settings: Settings
) -> None:
    create_product(admin)
    response = admin.post(
        "/api/admin/products/test-book/uploads", json={"fileName": "big.bin", "size": len(DATA)}
    )
    assert response.status_code == 413
    assert response.json()["code"] == "PAYLOAD_TOO_LARGE"
    staged = settings.resolved_data_dir / "uploads"
    assert not staged.exists() or list(staged.iterdir()) == []
    assert _open(admin, size=len(DATA) - 1, sha256=None)["size"] == len(DATA) - 1


def test_chunks_resume_and_complete(admin: TestClient) -> None:
    create_product(admin)
    upload = _open(admin)
    assert upload["received"] == 0
    first = _put(admin, upload["id"], 0, 999_999)
    assert first.status_code == 200
    assert first.json()["received"] == 1_000_000
    assert first.json()["complete"] is False
    # the same file again finds the unfinished upload
    again = _open(admin)
    assert again["id"] == upload["id"]
    assert again["received"] == 1_000_000
    wrong = _put(admin, upload["id"], 0, 999)
    assert wrong.status_code == 409
    assert wrong.json()["code"] == "UPLOAD_OFFSET_MISMATCH"
    assert wrong.json()["received"] == 1_000_000
    assert admin.get(f"/api/admin/uploads/{upload['id']}").json()["received"] == 1_000_000
    done = _put(admin, upload["id"], 1_000_000, len(DATA) - 1)
    assert done.status_code == 200, done.text
    body = done.json()
    assert body["complete"] is True
    assert body["file"]["sha256"] == hashlib.sha256(DATA).hexdigest()
    assert body["file"]["fileSize"] == len(DATA)
    assert admin.get(f"/api/admin/uploads/{upload['id']}").status_code == 404
    purchase = create_purchase(admin, "test-book")
    assert admin.get(purchase["downloadLinks"][0]["downloadUrl"]).content == DATA


def test_a_wrong_checksum_is_refused(admin: TestClient) -> None:
    create_product(admin)
    upload = _open(admin, sha256="0" * 64)
    response = _put(admin, upload["id"], 0, len(DATA) - 1)
    assert response.status_code == 422
    assert response.json()["code"] == "CHECKSUM_MISMATCH"
    assert admin.get("/api/admin/products/test-book").json()["fileName"] is None


@pytest.mark.parametrize(
    "content_range",
    [None, "bytes 0-9/5", "bytes 5-1/100", "items 0-1/2", "bytes 0-10/99999999"],
)
def test_bad_content_range_is_400(admin: TestClient, content_range: str | None) -> None:
    create_product(admin)
    upload = _open(admin)
    headers = {"Content-Range": content_range} if content_range else {}
    response = admin.put(f"/api/admin/uploads/{upload['id']}", content=b"x", headers=headers)
    assert response.status_code == 400
    assert response.json()["code"] == "INVALID_CONTENT_RANGE"


def test_a_chunk_longer_than_its_range_is_refused(admin: TestClient) -> None:
    create_product(admin)
    upload = _open(admin)
    response = admin.put(
        f"/api/admin/uploads/{upload['id']}",
        content=b"x" * 20,
        headers={"Content-Range": f"bytes 0-9/{len(DATA)}"},
    )
    assert response.status_code == 400
    assert response.json()["code"] == "CHUNK_TOO_LONG"
    assert admin.get(f"/api/admin/uploads/{upload['id']}").json()["received"] == 0


def test_unknown_upload_and_cancel(admin: TestClient) -> None:
    create_product(admin)
    assert admin.get("/api/admin/uploads/upl_nope").json()["code"] == "UPLOAD_NOT_FOUND"
    upload = _open(admin)
    assert admin.delete(f"/api/admin/uploads/{upload['id']}").status_code == 204
    assert admin.get(f"/api/admin/uploads/{upload['id']}").status_code == 404


def test_empty_file(admin: TestClient) -> None:
    create_product(admin)
    upload = _open(admin, size=0, sha256=hashlib.sha256(b"").hexdigest())
    done = admin.put(f"/api/admin/uploads/{upload['id']}", content=b"")
    assert done.json()["complete"] is True
    assert done.json()["file"]["fileSize"] == 0


@pytest.fixture
def cli_env(settings: Settings, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SHIPKEY_DATA_DIR", str(settings.data_dir))
    monkeypatch.setenv("SHIPKEY_DATABASE_URL", settings.resolved_database_url)
    monkeypatch.setenv("SHIPKEY_SECRET_KEY", settings.secret.decode())
    monkeypatch.setenv("COLUMNS", "200")
    monkeypatch.chdir(settings.data_dir.parent)


@pytest.mark.usefixtures("cli_env")
def test_cli_upload_resumes_and_prints_the_sha256(
    admin: TestClient, live_server: str, tmp_path: Path
) -> None:
    create_product(admin)
    path = tmp_path / "big.bin"
    path.write_bytes(DATA)
    # an earlier run was cut off after the first megabyte
    upload = _open(admin)
    _put(admin, upload["id"], 0, 1024 * 1024 - 1)
    result = runner.invoke(
        app,
        ["files", "upload", "test-book", str(path), "--url", live_server, "--token", ADMIN_TOKEN],
    )
    assert result.exit_code == 0, result.output
    assert f"SHA-256 {hashlib.sha256(DATA).hexdigest()}" in result.output
    product = admin.get("/api/admin/products/test-book").json()
    assert product["fileName"] == "big.bin"
    assert product["fileSize"] == len(DATA)


@pytest.mark.usefixtures("cli_env")
def test_cli_upload_without_token_fails(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SHIPKEY_ADMIN_TOKEN", raising=False)
    path = tmp_path / "f.bin"
    path.write_bytes(b"x")
    result = runner.invoke(app, ["files", "upload", "p", str(path)])
    assert result.exit_code == 2


@pytest.mark.usefixtures("cli_env")
def test_cli_verify(admin: TestClient, storage: Storage) -> None:
    from tests.factories import upload as upload_file

    create_product(admin)
    upload_file(admin, "test-book", DATA, filename="big.bin")
    create_product(admin, slug="other", name="Other")
    upload_file(admin, "other", b"other file", filename="o.bin")
    result = runner.invoke(app, ["files", "verify"])
    assert result.exit_code == 0, result.output
    assert "2 file(s) verified" in result.output
    from shipkey.catalog.models import Product

    db = admin.app.state.db  # type: ignore[attr-defined]
    with db.read_session() as session:
        file_key = session.query(Product).filter_by(slug="other").one().file_key
    path = storage.local_path(file_key)
    assert path is not None
    path.write_bytes(b"changed!!!")
    result = runner.invoke(app, ["files", "verify"])
    assert result.exit_code == 1
    assert "CHANGED" in result.output
    storage.delete(file_key)
    result = runner.invoke(app, ["files", "verify", "other"])
    assert result.exit_code == 1
    assert "MISSING" in result.output


def test_parallel_chunks_at_one_offset_are_written_once(
    admin: TestClient, live_server: str
) -> None:
    from collections import Counter
    from concurrent.futures import ThreadPoolExecutor

    import httpx

    create_product(admin)
    upload = _open(admin)
    chunk = DATA[:1_000_000]

    def send(_: int) -> tuple[int, str]:
        with httpx.Client(timeout=60) as http:
            response = http.put(
                f"{live_server}/api/admin/uploads/{upload['id']}",
                content=chunk,
                headers={
                    "Authorization": f"Bearer {ADMIN_TOKEN}",
                    "Content-Range": f"bytes 0-{len(chunk) - 1}/{len(DATA)}",
                },
            )
            return response.status_code, response.json().get("code", "")

    with ThreadPoolExecutor(max_workers=12) as pool:
        results = list(pool.map(send, range(12)))
    assert Counter(status for status, _ in results) == {200: 1, 409: 11}
    assert {code for status, code in results if status == 409} <= {
        "UPLOAD_BUSY",
        "UPLOAD_OFFSET_MISMATCH",
    }
    assert admin.get(f"/api/admin/uploads/{upload['id']}").json()["received"] == len(chunk)
    done = _put(admin, upload["id"], len(chunk), len(DATA) - 1)
    assert done.json()["file"]["sha256"] == hashlib.sha256(DATA).hexdigest()


def test_abandoned_uploads_are_swept(admin: TestClient, settings: Settings) -> None:
    from datetime import timedelta

    from sqlalchemy import update

    from shipkey.catalog.models import UploadSession
    from shipkey.clock import utcnow
    from shipkey.db.engine import Database

    create_product(admin)
    old = _open(admin, sha256=None)
    part = settings.resolved_data_dir / "uploads" / f"{old['id']}.part"
    assert part.exists()
    db: Database = admin.app.state.db  # type: ignore[attr-defined]
    with db.session() as session:
        session.execute(update(UploadSession).values(expires_at=utcnow() - timedelta(seconds=1)))
    assert admin.get(f"/api/admin/uploads/{old['id']}").status_code == 404
    _open(admin)
    assert not part.exists()


@pytest.mark.parametrize(
    "content_range", ["bytes ٠-٠/١", "bytes ０-０/１", "bytes 0-0/1\n", "bytes 0-0/1_0"]
)
def test_content_range_takes_ascii_digits_only(content_range: str) -> None:
    from shipkey.catalog.uploads import parse_content_range
    from shipkey.errors import BadRequest

    size = 10 if "_" in content_range else 1
    with pytest.raises(BadRequest):
        parse_content_range(content_range, size)
