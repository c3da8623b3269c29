"""PDF and EPUB stamping: the buyer on every page (PDF) or on a licence page (EPUB)."""

from __future__ import annotations

import zipfile
from pathlib import Path

import pytest
from ebooklib import epub  # type: ignore[import-untyped]
from pypdf import PdfReader

from shipkey.downloads.stamping import Stamp, StampError, kind_of, stamp_file
from tests.downloads.books import make_epub, make_pdf

STAMP = Stamp(email="buyer@example.com", order_id="pur_abc123", name="Jürgen Käufer")


def test_kind_of() -> None:
    assert kind_of("book.pdf", None) == "pdf"
    assert kind_of("book", "application/pdf") == "pdf"
    assert kind_of("Book.EPUB", "application/octet-stream") == "epub"
    assert kind_of("book", "application/epub+zip") == "epub"
    assert kind_of("tool.zip", "application/zip") is None


def test_stamp_text() -> None:
    assert STAMP.text == "Licensed to Jürgen Käufer <buyer@example.com> · order pur_abc123"
    assert Stamp(email="a@b.c", order_id="o1").text == "Licensed to a@b.c · order o1"


def test_stamped_pdf_keeps_the_book_and_names_the_buyer_on_every_page(tmp_path: Path) -> None:
    texts = [f"Chapter {n} of the original text" for n in range(1, 6)]
    sizes = [(595, 842), (612, 792), (842, 595), (595, 842), (300, 400)]
    source = tmp_path / "book.pdf"
    source.write_bytes(make_pdf(texts, sizes=sizes))
    target = tmp_path / "stamped.pdf"
    stamp_file("pdf", source, target, STAMP)

    reader = PdfReader(target)
    assert len(reader.pages) == len(texts)
    for page, text, size in zip(reader.pages, texts, sizes, strict=True):
        extracted = page.extract_text()
        assert text in extracted
        assert "buyer@example.com" in extracted
        assert "Jürgen Käufer" in extracted
        assert "pur_abc123" in extracted
        assert (float(page.mediabox.width), float(page.mediabox.height)) == size
    info = reader.metadata
    assert info is not None
    assert str(info["/Title"]) == "A Test Book"
    assert str(info["/Author"]) == "Ann Author"
    assert str(info["/LicensedTo"]) == "Jürgen Käufer <buyer@example.com>"
    assert str(info["/LicenseOrder"]) == "pur_abc123"


def test_names_outside_the_pdf_font_are_written_plainly(tmp_path: Path) -> None:
    source = tmp_path / "book.pdf"
    source.write_bytes(make_pdf(["Text"]))
    target = tmp_path / "stamped.pdf"
    stamp_file("pdf", source, target, Stamp(email="x@example.com", order_id="o", name="李 (Ω)"))
    extracted = PdfReader(target).pages[0].extract_text()
    assert "x@example.com" in extracted
    assert str(PdfReader(target).metadata["/LicensedTo"]) == "李 (Ω) <x@example.com>"  # type: ignore[index]


def test_a_damaged_pdf_is_refused(tmp_path: Path) -> None:
    source = tmp_path / "bad.pdf"
    source.write_bytes(b"%PDF-1.7\nthis is not a pdf")
    with pytest.raises(StampError):
        stamp_file("pdf", source, tmp_path / "out.pdf", STAMP)


def test_stamped_epub_opens_and_shows_the_buyer(tmp_path: Path) -> None:
    source = tmp_path / "book.epub"
    make_epub(source, ["It was a dark night.", "The end & the beginning."])
    target = tmp_path / "stamped.epub"
    stamp_file("epub", source, target, STAMP)

    with zipfile.ZipFile(target) as book:
        first = book.infolist()[0]
        assert first.filename == "mimetype"
        assert first.compress_type == zipfile.ZIP_STORED
        assert book.read("mimetype") == b"application/epub+zip"

    book = epub.read_epub(str(target))
    page = book.get_item_with_id("shipkey-license")
    assert page is not None
    content = page.get_content().decode()
    assert "buyer@example.com" in content
    assert "Jürgen Käufer" in content
    assert "pur_abc123" in content
    assert book.spine[0][0] == "shipkey-license"
    chapters = [
        item.get_content().decode() for item in book.get_items() if "chap_" in item.file_name
    ]
    assert any("It was a dark night." in text for text in chapters)
    assert any("The end &amp; the beginning." in text for text in chapters)
    rights = book.get_metadata("DC", "rights")
    assert rights[0][0] == STAMP.text
    assert book.get_metadata("DC", "title")[0][0] == "A Test Book"


def test_an_epub_cannot_be_stamped_twice_and_junk_is_refused(tmp_path: Path) -> None:
    source = tmp_path / "book.epub"
    make_epub(source, ["Text"])
    once = tmp_path / "once.epub"
    stamp_file("epub", source, once, STAMP)
    with pytest.raises(StampError):
        stamp_file("epub", once, tmp_path / "twice.epub", STAMP)
    junk = tmp_path / "junk.epub"
    junk.write_bytes(b"PK not really")
    with pytest.raises(StampError):
        stamp_file("epub", junk, tmp_path / "out.epub", STAMP)
