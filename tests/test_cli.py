"""The ``shipkey`` command line, run in-process against the test database."""

from __future__ import annotations

import pytest
from sqlalchemy import select
from typer.testing import CliRunner

from shipkey.admin import service as admin_service
from shipkey.catalog.models import Product
from shipkey.cli import app
from shipkey.config import Settings
from shipkey.db.engine import Database

runner = CliRunner()


@pytest.fixture
def env(settings: Settings, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    values = {
        "SHIPKEY_DATA_DIR": str(settings.data_dir),
        "SHIPKEY_DATABASE_URL": settings.resolved_database_url,
        "SHIPKEY_SECRET_KEY": settings.secret.decode(),
        "SHIPKEY_BASE_URL": "http://shop.example",
        "COLUMNS": "200",
    }
    for name, value in values.items():
        monkeypatch.setenv(name, value)
    monkeypatch.chdir(settings.data_dir.parent)
    return values


def test_migrate_is_idempotent(env: dict[str, str]) -> None:
    for _ in range(2):
        result = runner.invoke(app, ["migrate"])
        assert result.exit_code == 0, result.output
        assert "up to date" in result.output


def test_demo_creates_products_with_real_files(env: dict[str, str], db: Database) -> None:
    result = runner.invoke(app, ["demo"])
    assert result.exit_code == 0, result.output
    assert "field-guide" in result.output
    assert "http://shop.example/api/download/" in result.output
    with db.read_session() as session:
        products = {p.slug: p for p in session.scalars(select(Product))}
    assert set(products) == {"field-guide", "pixel-forge", "shipping-academy"}
    assert products["field-guide"].file_mime_type == "application/pdf"
    assert products["pixel-forge"].file_mime_type == "application/zip"
    assert products["pixel-forge"].license_type is not None
    assert products["shipping-academy"].file_key is None
    again = runner.invoke(app, ["demo"])
    assert again.exit_code == 0, again.output
    with db.read_session() as session:
        assert len(list(session.scalars(select(Product)))) == 3


def test_demo_pdf_is_a_real_pdf(env: dict[str, str], db: Database, settings: Settings) -> None:
    import io

    from pypdf import PdfReader

    from shipkey.storage import open_storage

    runner.invoke(app, ["demo"])
    with db.read_session() as session:
        book = session.scalars(select(Product).where(Product.slug == "field-guide")).one()
    assert book.file_key is not None
    path = open_storage(settings.resolved_storage_url).local_path(book.file_key)
    assert path is not None
    reader = PdfReader(io.BytesIO(path.read_bytes()))
    assert len(reader.pages) == 2
    assert "Paid means delivered" in reader.pages[0].extract_text()


def test_admin_token_create_list_revoke(env: dict[str, str], db: Database) -> None:
    created = runner.invoke(app, ["admin-token", "create", "--name", "ci"])
    assert created.exit_code == 0, created.output
    raw = created.output.strip()
    assert raw.startswith("sk_admin_")
    with db.read_session() as session:
        token = admin_service.find_token(session, raw)
        assert token is not None
        assert token.token_hash != raw
        token_id = token.id
    listed = runner.invoke(app, ["admin-token", "list"])
    assert token_id in listed.output
    assert raw not in listed.output
    assert runner.invoke(app, ["admin-token", "revoke", token_id]).exit_code == 0
    assert runner.invoke(app, ["admin-token", "revoke", token_id]).exit_code == 1
    with db.read_session() as session:
        assert admin_service.find_token(session, raw) is None


def test_created_token_opens_the_admin_api(env: dict[str, str], settings: Settings) -> None:
    from fastapi.testclient import TestClient

    from shipkey.app import create_app

    raw = runner.invoke(app, ["admin-token", "create"]).output.strip()
    plain = Settings(_env_file=None)
    with TestClient(create_app(plain)) as client:
        ok = client.get("/api/admin/products", headers={"Authorization": f"Bearer {raw}"})
        assert ok.status_code == 200
        revoked = client.get("/api/admin/products", headers={"Authorization": "Bearer sk_admin_x"})
        assert revoked.status_code == 401


def test_manual_purchase_and_signed_url(env: dict[str, str]) -> None:
    runner.invoke(app, ["demo"])
    sale = runner.invoke(
        app, ["purchases", "create", "--product", "field-guide", "--email", "a@example.com"]
    )
    assert sale.exit_code == 0, sale.output
    assert "COMPLETED" in sale.output
    assert "http://shop.example/api/download/" in sale.output
    bad = runner.invoke(app, ["purchases", "create", "--product", "nope", "--email", "a@b.co"])
    assert bad.exit_code == 1
    signed = runner.invoke(app, ["products", "signed-url", "field-guide", "--expires-in", "60"])
    assert signed.exit_code == 0, signed.output
    assert "http://shop.example/api/signed/products/" in signed.output
    listed = runner.invoke(app, ["products", "list"])
    assert "pixel-forge" in listed.output
