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
