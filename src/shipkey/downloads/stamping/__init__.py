"""Personal copies of e-books: the buyer's name, e-mail and order on every copy sold.

``stamp_file(kind, source, target, stamp)`` writes a stamped copy of a PDF or EPUB file.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Literal

Kind = Literal["pdf", "epub"]


class StampError(Exception):
    """The file cannot be stamped (it is damaged, encrypted or not what its name says)."""


@dataclass(frozen=True)
class Stamp:
    """Who a copy is licensed to."""

    email: str
    order_id: str
    name: str | None = None

    @property
    def licensee(self) -> str:
        """``NAME <email>``, or the e-mail address alone when the name is unknown."""
        return f"{self.name} <{self.email}>" if self.name else self.email

    @property
    def text(self) -> str:
        """``Licensed to NAME <email> · order ID``."""
        return f"Licensed to {self.licensee} \u00b7 order {self.order_id}"


def kind_of(file_name: str | None, mime_type: str | None) -> Kind | None:
    """Which stamper a product file needs, or ``None`` when it is neither PDF nor EPUB."""
    mime = (mime_type or "").split(";", 1)[0].strip().lower()
    name = (file_name or "").lower()
    if mime == "application/pdf" or name.endswith(".pdf"):
        return "pdf"
    if mime == "application/epub+zip" or name.endswith(".epub"):
        return "epub"
    return None


def stamp_file(kind: Kind, source: Path, target: Path, stamp: Stamp) -> None:
    """Write the stamped copy of ``source`` to ``target``; :class:`StampError` if impossible."""
    if kind == "pdf":
        from shipkey.downloads.stamping.pdf import stamp_pdf

        stamp_pdf(source, target, stamp)
    else:
        from shipkey.downloads.stamping.epub import stamp_epub

        stamp_epub(source, target, stamp)
