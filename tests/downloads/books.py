"""Small real e-books for the stamping tests: PDFs made with pypdf, EPUBs made with ebooklib."""

from __future__ import annotations

import io
from collections.abc import Sequence
from pathlib import Path

from ebooklib import epub  # type: ignore[import-untyped]
from pypdf import PageObject, PdfWriter
from pypdf.generic import DecodedStreamObject, DictionaryObject, NameObject


def make_pdf(pages: list[str], *, sizes: Sequence[tuple[float, float]] | None = None) -> bytes:
    """A PDF whose page ``i`` shows the text ``pages[i]`` (Helvetica, extractable)."""
    writer = PdfWriter()
    for index, text in enumerate(pages):
        width, height = sizes[index] if sizes else (595, 842)
        page = PageObject.create_blank_page(width=width, height=height)
        font = DictionaryObject(
            {
                NameObject("/Type"): NameObject("/Font"),
                NameObject("/Subtype"): NameObject("/Type1"),
                NameObject("/BaseFont"): NameObject("/Helvetica"),
            }
        )
        page[NameObject("/Resources")] = DictionaryObject(
            {NameObject("/Font"): DictionaryObject({NameObject("/F1"): font})}
        )
        content = DecodedStreamObject()
        content.set_data(f"BT /F1 14 Tf 72 {height - 100} Td ({text}) Tj ET".encode())
        page[NameObject("/Contents")] = writer._add_object(content)
        writer.add_page(page)
    writer.add_metadata({"/Title": "A Test Book", "/Author": "Ann Author"})
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def make_epub(path: Path, chapters: list[str]) -> None:
    """An EPUB 3 book with one XHTML page per chapter text."""
    book = epub.EpubBook()
    book.set_identifier("test-book-1")
    book.set_title("A Test Book")
    book.set_language("en")
    book.add_author("Ann Author")
    items = []
    for number, text in enumerate(chapters, start=1):
        chapter = epub.EpubHtml(title=f"Chapter {number}", file_name=f"chap_{number}.xhtml")
        chapter.content = f"<html><body><h1>Chapter {number}</h1><p>{text}</p></body></html>"
        book.add_item(chapter)
        items.append(chapter)
    book.toc = items
    book.add_item(epub.EpubNcx())
    book.add_item(epub.EpubNav())
    book.spine = ["nav", *items]
    epub.write_epub(str(path), book)
