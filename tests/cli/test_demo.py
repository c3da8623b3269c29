"""``shipkey demo``."""

from __future__ import annotations

from sqlalchemy import select
from typer.testing import CliRunner

from shipkey.catalog.models import Product
from shipkey.cli import app
from shipkey.config import Settings
from shipkey.db.engine import Database

runner = CliRunner()


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


def test_demo_publishes_the_apps_releases_once_each_signed(
    env: dict[str, str], db: Database, settings: Settings
) -> None:
    import base64

    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

    from shipkey.licensing.signing_keys import signing_key_store
    from shipkey.releases.models import Release
    from shipkey.storage import open_storage

    assert runner.invoke(app, ["demo"]).exit_code == 0
    assert runner.invoke(app, ["demo"]).exit_code == 0
    storage = open_storage(settings.resolved_storage_url)
    public = signing_key_store(settings.resolved_data_dir).public_keys()
    with db.read_session() as session:
        found = list(session.scalars(select(Release).order_by(Release.published_at)))
        assert [(r.version, r.channel) for r in found] == [
            ("1.0.0", "stable"),
            ("1.1.0", "stable"),
            ("1.2.0b1", "beta"),
        ]
        for release in found:
            (artifact,) = release.artifacts
            assert artifact.file_name == f"pixel-forge-{release.version}.zip"
            path = storage.local_path(artifact.file_key)
            assert path is not None
            key: Ed25519PublicKey = public[artifact.kid]
            key.verify(base64.b64decode(artifact.signature), path.read_bytes())
