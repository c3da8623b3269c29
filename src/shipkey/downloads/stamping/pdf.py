"""PDF stamping with pypdf: a line of text at the foot of every page, and document metadata.

The stamp is drawn in Helvetica (one of the 14 fonts every PDF reader has, so nothing is
embedded) in a small grey line along the bottom edge of each page's visible area. Its text is
real page text, so it survives printing and shows up in text extraction. The original pages,
text, outline and metadata are kept; ``/LicensedTo`` and ``/LicenseOrder`` are added to the
document information.
"""

from __future__ import annotations

import unicodedata
from pathlib import Path

from pypdf import PageObject, PdfReader, PdfWriter, Transformation
from pypdf.errors import PdfReadError, PyPdfError
from pypdf.generic import DecodedStreamObject, DictionaryObject, NameObject

from shipkey.downloads.stamping import Stamp, StampError

FONT_NAME = "/ShipkeyStampFont"
FONT_SIZE = 7
MARGIN = 12


def _winansi(text: str) -> bytes:
    """The text in the encoding of the standard fonts; what it lacks becomes ASCII or '?'."""
    out = bytearray()
    for char in text:
        try:
            out += char.encode("cp1252")
        except UnicodeEncodeError:
            plain = unicodedata.normalize("NFKD", char).encode("ascii", "ignore")
            out += plain or b"?"
    return bytes(out)


def _literal(data: bytes) -> bytes:
    """A PDF literal string: ``(`` … ``)`` with ``\\``, ``(`` and ``)`` escaped."""
    return b"(" + data.replace(b"\\", b"\\\\").replace(b"(", b"\\(").replace(b")", b"\\)") + b")"


def _overlay(width: float, height: float, text: bytes) -> PageObject:
    page = PageObject.create_blank_page(width=width, height=height)
    font = DictionaryObject(
        {
            NameObject("/Type"): NameObject("/Font"),
            NameObject("/Subtype"): NameObject("/Type1"),
            NameObject("/BaseFont"): NameObject("/Helvetica"),
            NameObject("/Encoding"): NameObject("/WinAnsiEncoding"),
        }
    )
    page[NameObject("/Resources")] = DictionaryObject(
        {NameObject("/Font"): DictionaryObject({NameObject(FONT_NAME): font})}
    )
    content = DecodedStreamObject()
    content.set_data(
        b"q 0.45 g BT "
        + FONT_NAME.encode()
        + b" %d Tf 1 0 0 1 %d %d Tm " % (FONT_SIZE, MARGIN, MARGIN)
        + _literal(text)
        + b" Tj ET Q"
    )
    page[NameObject("/Contents")] = content
    return page


def stamp_pdf(source: Path, target: Path, stamp: Stamp) -> None:
    """Write ``source`` with ``stamp`` on every page to ``target``."""
    try:
        reader = PdfReader(source)
        if reader.is_encrypted:
            raise StampError("encrypted PDF files cannot be stamped")
        writer = PdfWriter(clone_from=reader)
        text = _winansi(stamp.text)
        overlays: dict[tuple[float, float], PageObject] = {}
        for page in writer.pages:
            box = page.cropbox
            size = (float(box.width), float(box.height))
            overlay = overlays.get(size)
            if overlay is None:
                overlay = overlays[size] = _overlay(*size, text)
            page.merge_transformed_page(
                overlay, Transformation().translate(float(box.left), float(box.bottom))
            )
        writer.add_metadata(
            {
                "/LicensedTo": stamp.licensee,
                "/LicenseOrder": stamp.order_id,
                "/LicenseNotice": stamp.text,
            }
        )
        with Path(target).open("wb") as out:
            writer.write(out)
    except StampError:
        raise
    except (PdfReadError, PyPdfError, ValueError, KeyError, TypeError) as exc:
        raise StampError(f"the PDF cannot be stamped: {exc}") from exc
