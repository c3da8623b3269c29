"""EPUB stamping: a licence page at the start of the book and a ``dc:rights`` entry.

The book is copied entry by entry (``mimetype`` first and uncompressed, as the format wants);
only the package document (OPF) changes, by inserting three elements as text, so everything the
publisher wrote stays byte for byte. The new page is plain XHTML that EPUB 2 and 3 readers show.
"""

from __future__ import annotations

import posixpath
import re
import shutil
import zipfile
from pathlib import Path
from xml.sax.saxutils import escape, quoteattr

from defusedxml import ElementTree
from defusedxml.common import DefusedXmlException

from shipkey.downloads.stamping import Stamp, StampError

CONTAINER = "META-INF/container.xml"
PAGE_ID = "shipkey-license"
PAGE_NAME = "shipkey-license.xhtml"
_CONTAINER_NS = "{urn:oasis:names:tc:opendocument:xmlns:container}"
_OPF_NS = "{http://www.idpf.org/2007/opf}"
_DC = "http://purl.org/dc/elements/1.1/"

_PAGE = """<?xml version="1.0" encoding="utf-8"?>
<!DOCTYPE html>
<html xmlns="http://www.w3.org/1999/xhtml" lang="en" xml:lang="en">
<head><title>License</title></head>
<body>
<div style="margin-top: 30%; text-align: center;">
<p>{licensed}</p>
<p>{order}</p>
<p><small>This copy was made for its buyer. Please do not share it.</small></p>
</div>
</body>
</html>
"""


def _package_path(book: zipfile.ZipFile) -> str:
    try:
        root = ElementTree.fromstring(book.read(CONTAINER))
    except (KeyError, ElementTree.ParseError, DefusedXmlException) as exc:
        raise StampError(f"not an EPUB file (no readable {CONTAINER})") from exc
    for rootfile in root.iter(f"{_CONTAINER_NS}rootfile"):
        path = rootfile.get("full-path")
        if path:
            return path
    raise StampError("the EPUB names no package document")


def _closing(tag: str, text: str) -> re.Match[str]:
    match = re.search(rf"</((?:[A-Za-z_][\w.-]*:)?){tag}\s*>", text)
    if match is None:
        raise StampError(f"the EPUB package document has no <{tag}>")
    return match


def _edit_package(opf: str, page_href: str, stamp: Stamp) -> str:
    try:
        package = ElementTree.fromstring(opf.encode("utf-8"))
    except (ElementTree.ParseError, DefusedXmlException) as exc:
        raise StampError(f"the EPUB package document is not valid XML: {exc}") from exc
    ids = {element.get("id") for element in package.iter() if element.get("id")}
    if PAGE_ID in ids or package.find(f"{_OPF_NS}spine") is None:
        raise StampError("the EPUB is already stamped or has no spine")

    metadata_end = _closing("metadata", opf)
    rights = f'<dc:rights xmlns:dc="{_DC}">{escape(stamp.text)}</dc:rights>\n'
    opf = opf[: metadata_end.start()] + rights + opf[metadata_end.start() :]

    manifest_end = _closing("manifest", opf)
    prefix = manifest_end.group(1)
    item = (
        f"<{prefix}item id={quoteattr(PAGE_ID)} href={quoteattr(page_href)} "
        'media-type="application/xhtml+xml"/>\n'
    )
    opf = opf[: manifest_end.start()] + item + opf[manifest_end.start() :]

    spine_start = re.search(r"<((?:[A-Za-z_][\w.-]*:)?)spine\b[^>]*>", opf)
    if spine_start is None or spine_start.group(0).endswith("/>"):
        raise StampError("the EPUB package document has an empty spine")
    itemref = f"\n<{spine_start.group(1)}itemref idref={quoteattr(PAGE_ID)}/>"
    return opf[: spine_start.end()] + itemref + opf[spine_start.end() :]


def stamp_epub(source: Path, target: Path, stamp: Stamp) -> None:
    """Write ``source`` with a licence page and ``dc:rights`` for ``stamp`` to ``target``."""
    try:
        with zipfile.ZipFile(source) as book:
            package_path = _package_path(book)
            try:
                opf = book.read(package_path).decode("utf-8")
            except (KeyError, UnicodeDecodeError) as exc:
                raise StampError("the EPUB package document cannot be read") from exc
            folder = posixpath.dirname(package_path)
            page_path = posixpath.join(folder, PAGE_NAME) if folder else PAGE_NAME
            new_opf = _edit_package(opf, PAGE_NAME, stamp)
            page = _PAGE.format(
                licensed=escape(f"Licensed to {stamp.licensee}"),
                order=escape(f"Order {stamp.order_id}"),
            )
            with zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED) as out:
                out.writestr(
                    zipfile.ZipInfo("mimetype"), b"application/epub+zip", zipfile.ZIP_STORED
                )
                for entry in book.infolist():
                    if entry.filename in {"mimetype", page_path}:
                        continue
                    if entry.filename == package_path:
                        out.writestr(entry, new_opf.encode("utf-8"), zipfile.ZIP_DEFLATED)
                        continue
                    with book.open(entry) as src, out.open(entry, "w") as dst:
                        shutil.copyfileobj(src, dst, 1 << 20)
                out.writestr(page_path, page.encode("utf-8"))
    except StampError:
        raise
    except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, EOFError) as exc:
        raise StampError(f"the EPUB cannot be stamped: {exc}") from exc
