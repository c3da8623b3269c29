"""Catalog rules: creating and changing products, and attaching their files.

Every function here runs inside its caller's transaction. A file sent whole in one request is
streamed into storage outside any transaction: :mod:`shipkey.catalog.file_upload`.
"""

from __future__ import annotations

import mimetypes
import re
import secrets
from collections.abc import Sequence
from typing import TYPE_CHECKING

from sqlalchemy import or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from shipkey.catalog.models import Product
from shipkey.catalog.schemas import MEDIA_TYPE_PATTERN
from shipkey.clock import utcnow
from shipkey.errors import BadRequest, Conflict, NotFound, PayloadTooLarge
from shipkey.http.files import sanitize_filename
from shipkey.storage import StoredObject

if TYPE_CHECKING:
    from shipkey.catalog.schemas import ProductCreate, ProductUpdate

DEFAULT_MIME_TYPE = "application/octet-stream"
_MIME_PATTERN = re.compile(MEDIA_TYPE_PATTERN)


def get_product(session: Session, ref: str) -> Product:
    """A product by id or slug, or 404 ``PRODUCT_NOT_FOUND``."""
    product = session.scalars(
        select(Product).where(or_(Product.id == ref, Product.slug == ref))
    ).first()
    if product is None:
        raise NotFound(f"No product {ref!r}.", "PRODUCT_NOT_FOUND")
    return product


def list_products(session: Session) -> Sequence[Product]:
    return session.scalars(select(Product).order_by(Product.created_at, Product.id)).all()


def _ensure_slug_free(session: Session, slug: str, exclude_id: str | None = None) -> None:
    query = select(Product.id).where(Product.slug == slug)
    if exclude_id is not None:
        query = query.where(Product.id != exclude_id)
    if session.scalar(query) is not None:
        raise Conflict(f"The slug {slug!r} is already taken.", "SLUG_TAKEN")


def _flush_unique(session: Session, slug: str) -> None:
    try:
        with session.begin_nested():
            session.flush()
    except IntegrityError as exc:  # a concurrent request took the slug in between
        raise Conflict(f"The slug {slug!r} is already taken.", "SLUG_TAKEN") from exc


def create_product(session: Session, data: ProductCreate) -> Product:
    _ensure_slug_free(session, data.slug)
    fields = data.model_dump(exclude={"metadata"})
    product = Product(**fields, meta=data.metadata)
    session.add(product)
    _flush_unique(session, data.slug)
    return product


def update_product(session: Session, product: Product, data: ProductUpdate) -> Product:
    changes = data.model_dump(exclude_unset=True)
    if "slug" in changes and changes["slug"] is not None:
        _ensure_slug_free(session, changes["slug"], exclude_id=product.id)
    for field, value in changes.items():
        if value is None and field not in {"license_type", "license_days", "key_prefix"}:
            continue
        if field == "metadata":
            product.meta = value
        else:
            setattr(product, field, value)
    _flush_unique(session, product.slug)
    return product


# --- files ----------------------------------------------------------------------------------


def clean_file_name(raw: str | None) -> str:
    if raw is None or not raw.strip():
        raise BadRequest("Give the file's name as ?filename=NAME.", "INVALID_FILENAME")
    try:
        return sanitize_filename(raw)
    except ValueError as exc:
        raise BadRequest(f"Unusable file name: {exc}", "INVALID_FILENAME") from exc


def clean_mime_type(content_type: str | None, file_name: str) -> str:
    """The upload's own Content-Type when it is a real one, else a guess from the name."""
    if content_type:
        content_type = content_type.strip()
        if len(content_type) <= 255 and _MIME_PATTERN.match(content_type):
            return content_type
        raise BadRequest("The Content-Type header is not a valid media type.", "INVALID_MIME_TYPE")
    guessed, _ = mimetypes.guess_type(file_name, strict=False)
    return guessed or DEFAULT_MIME_TYPE


def check_size(size: int | None, max_bytes: int) -> None:
    """413 ``PAYLOAD_TOO_LARGE`` when a file of ``size`` bytes (declared, or counted so far) is
    over ``SHIPKEY_MAX_UPLOAD_BYTES``."""
    if size is not None and size > max_bytes:
        raise PayloadTooLarge(
            f"The file is larger than the {max_bytes} bytes an upload may bring "
            "(SHIPKEY_MAX_UPLOAD_BYTES).",
            maxBytes=max_bytes,
        )


def declared_length(header: str | None) -> int | None:
    """A request's ``Content-Length``, ``None`` when it sends none (or one that is no number)."""
    value = header.strip() if header is not None else ""
    if not (value.isascii() and value.isdigit()):  # "²".isdigit() is true; int() refuses it
        return None
    return int(value)


def new_file_key(product_id: str) -> str:
    return f"products/{product_id}/{secrets.token_hex(16)}"


def attach_file(
    session: Session, product: Product, stored: StoredObject, file_name: str, mime_type: str
) -> str | None:
    """Point the product at a stored file; returns the key of the file it replaced."""
    previous = product.file_key
    product.file_key = stored.key
    product.file_name = file_name
    product.file_size = stored.size
    product.file_sha256 = stored.sha256
    product.file_mime_type = mime_type
    product.file_uploaded_at = utcnow()
    session.flush()
    return previous
