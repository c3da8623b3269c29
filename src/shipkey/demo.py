"""The demo store: three products with real files, the app's releases, and a sale to try the
download link on."""

from __future__ import annotations

import io
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from shipkey.catalog import service as catalog
from shipkey.catalog.models import LicenseType, Product, ProductType
from shipkey.catalog.schemas import ProductCreate
from shipkey.config import Settings
from shipkey.licensing.signing_keys import signing_key_store
from shipkey.orders.models import Purchase
from shipkey.orders.schemas import PurchaseCreate
from shipkey.releases import service as releases
from shipkey.releases.models import Channel, Release
from shipkey.releases.schemas import ReleaseCreate
from shipkey.sales import flows
from shipkey.storage import Storage

DEMO_BUYER = "buyer@example.com"

BOOK_PAGES = [
    [
        "The Field Guide to Shipping",
        "A demo e-book delivered by shipkey.",
        "",
        "Chapter 1: Paid means delivered",
        "The moment a payment lands, the buyer gets what they paid for:",
        "a signed download link, a license key, or access to a course.",
    ],
    [
        "Chapter 2: Links that keep their promise",
        "Each link is one download, resumable until it expires.",
        "The purchase's download limit holds under any number of parallel clicks.",
    ],
]


def _pdf_text(line: str) -> bytes:
    escaped = line.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)")
    return escaped.encode("latin-1", "replace")


def make_pdf(pages: list[list[str]], title: str) -> bytes:
    """A small, valid PDF with real (extractable) text on each page."""
    objects: list[bytes] = []
    page_ids = [3 + 2 * i for i in range(len(pages))]
    font_id = 3 + 2 * len(pages)
    info_id = font_id + 1
    objects.append(b"<< /Type /Catalog /Pages 2 0 R >>")
    kids = b" ".join(b"%d 0 R" % pid for pid in page_ids)
    objects.append(b"<< /Type /Pages /Kids [%s] /Count %d >>" % (kids, len(pages)))
    for index, lines in enumerate(pages):
        parts = [b"BT /F1 20 Tf 72 770 Td 24 TL"]
        for number, line in enumerate(lines):
            if number == 1:
                parts.append(b"/F1 12 Tf")
            parts.append(b"(" + _pdf_text(line) + b") Tj T*")
        parts.append(b"ET")
        content = b"\n".join(parts)
        objects.append(
            b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] "
            b"/Resources << /Font << /F1 %d 0 R >> >> /Contents %d 0 R >>"
            % (font_id, page_ids[index] + 1)
        )
        objects.append(b"<< /Length %d >>\nstream\n%s\nendstream" % (len(content), content))
    objects.append(b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>")
    objects.append(b"<< /Title (%s) /Producer (shipkey demo) >>" % _pdf_text(title))

    out = io.BytesIO()
    out.write(b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(out.tell())
        out.write(b"%d 0 obj\n%s\nendobj\n" % (number, body))
    xref = out.tell()
    out.write(b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1))
    for offset in offsets:
        out.write(b"%010d 00000 n \n" % offset)
    out.write(
        b"trailer\n<< /Size %d /Root 1 0 R /Info %d 0 R >>\nstartxref\n%d\n%%%%EOF\n"
        % (len(objects) + 1, info_id, xref)
    )
    return out.getvalue()


RELEASES = [
    ("1.0.0", Channel.STABLE, "The first release."),
    ("1.1.0", Channel.STABLE, "Batch export of whole folders; faster SVG export."),
    ("1.2.0b1", Channel.BETA, "Beta: a dark theme. Feedback welcome."),
]
"""The demo app's versions, oldest first: what the updater and the package index offer."""


def make_installer_zip(version: str = "1.0") -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.writestr(
            "pixel-forge/README.txt",
            f"Pixel Forge {version}\nRun install.sh, then enter your license key.\n",
        )
        archive.writestr(
            "pixel-forge/install.sh",
            "#!/bin/sh\necho 'Pixel Forge installed. Activate it with your license key.'\n",
        )
        archive.writestr("pixel-forge/LICENSE.txt", "Licensed per seat. See your purchase page.\n")
    return buffer.getvalue()


@dataclass
class DemoResult:
    products: list[Product]
    created: list[str]
    purchase: Purchase | None
    download_url: str | None


def _ensure(session: Session, data: ProductCreate, created: list[str]) -> Product:
    existing = session.scalars(select(Product).where(Product.slug == data.slug)).first()
    if existing is not None:
        return existing
    created.append(data.slug)
    return catalog.create_product(session, data)


def _attach(
    session: Session, storage: Storage, product: Product, name: str, mime: str, data: bytes
) -> None:
    if product.file_key is not None:
        return
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / name
        path.write_bytes(data)
        stored = storage.save_file(catalog.new_file_key(product.id), path)
    catalog.attach_file(session, product, stored, name, mime)


def _publish(session: Session, storage: Storage, settings: Settings, product: Product) -> None:
    """The demo app's releases (once each), each with its installer, signed like any release."""
    have = {
        r.version for r in session.scalars(select(Release).where(Release.product_id == product.id))
    }
    keys = signing_key_store(settings.resolved_data_dir)
    for version, channel, notes in RELEASES:
        if version in have:
            continue
        release = releases.create_release(
            session, product, ReleaseCreate(version=version, channel=channel, notes=notes)
        )
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / "installer.zip"
            path.write_bytes(make_installer_zip(version))
            releases.attach_file(
                session, storage, keys, release, path, f"pixel-forge-{version}.zip"
            )


def seed(session: Session, storage: Storage, settings: Settings) -> DemoResult:
    """Create the demo products (once) and a fresh demo sale of the e-book."""
    created: list[str] = []
    book = _ensure(
        session,
        ProductCreate(
            name="The Field Guide to Shipping",
            slug="field-guide",
            type=ProductType.DOWNLOAD,
            price=1900,
            description="A PDF e-book about delivering what was paid for.",
            max_downloads=5,
            link_ttl_hours=24,
        ),
        created,
    )
    _attach(
        session,
        storage,
        book,
        "The Field Guide to Shipping.pdf",
        "application/pdf",
        make_pdf(BOOK_PAGES, "The Field Guide to Shipping"),
    )
    software = _ensure(
        session,
        ProductCreate(
            name="Pixel Forge",
            slug="pixel-forge",
            type=ProductType.LICENSE,
            price=4900,
            description="A desktop app sold with a license key and its installer.",
            license_type=LicenseType.PERPETUAL,
            max_activations=3,
            key_prefix="PXF",
            metadata={"features": ["export-png", "export-svg", "batch"]},
        ),
        created,
    )
    _attach(
        session, storage, software, "pixel-forge-1.0.zip", "application/zip", make_installer_zip()
    )
    _publish(session, storage, settings, software)
    course = _ensure(
        session,
        ProductCreate(
            name="Shipping Academy",
            slug="shipping-academy",
            type=ProductType.COURSE,
            price=9900,
            description="A video course with lifetime access.",
            metadata={"courseSlug": "shipping-academy"},
        ),
        created,
    )
    purchase, delivery = flows.create_purchase(
        session, settings, PurchaseCreate(product=book.slug, email=DEMO_BUYER, name="Demo Buyer")
    )
    url = delivery.links[0].url if delivery and delivery.links else None
    return DemoResult([book, software, course], created, purchase, url)
