"""A product the seller sells, and the file it delivers."""

from __future__ import annotations

import enum
from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, Boolean, Enum, ForeignKey, Integer, String, Text, text
from sqlalchemy.orm import Mapped, mapped_column

from shipkey.clock import utcnow
from shipkey.db.types import Base, JSONDict, UTCDateTime
from shipkey.ids import new_id


class ProductType(enum.StrEnum):
    DOWNLOAD = "DOWNLOAD"
    LICENSE = "LICENSE"
    SUBSCRIPTION = "SUBSCRIPTION"
    COURSE = "COURSE"
    MEMBERSHIP = "MEMBERSHIP"


class LicenseType(enum.StrEnum):
    PERPETUAL = "PERPETUAL"
    SUBSCRIPTION = "SUBSCRIPTION"
    TRIAL = "TRIAL"


class Product(Base):
    """The seed's DigitalProduct."""

    __tablename__ = "products"

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=lambda: new_id("prod"))
    slug: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    type: Mapped[ProductType] = mapped_column(Enum(ProductType, native_enum=False, length=16))
    price: Mapped[int] = mapped_column(Integer, default=0)
    currency: Mapped[str] = mapped_column(String(3), default="EUR")
    description: Mapped[str] = mapped_column(Text, default="")
    max_downloads: Mapped[int] = mapped_column(Integer, default=5)
    link_ttl_hours: Mapped[int] = mapped_column(Integer, default=24)
    license_type: Mapped[LicenseType | None] = mapped_column(
        Enum(LicenseType, native_enum=False, length=16), nullable=True
    )
    max_activations: Mapped[int] = mapped_column(Integer, default=3)
    max_deactivations: Mapped[int] = mapped_column(Integer, default=3, server_default="3")
    """How often a buyer may free a seat of one license in 30 days."""
    license_file_days: Mapped[int] = mapped_column(Integer, default=7, server_default="7")
    """How long an offline license file lives before it must be renewed online."""
    license_days: Mapped[int | None] = mapped_column(Integer, nullable=True)
    key_prefix: Mapped[str | None] = mapped_column(String(4), nullable=True)
    key_pool: Mapped[bool] = mapped_column(Boolean, default=False, server_default=text("false"))
    """Keys were added to the product's pool: its sales take pooled keys, never generated ones
    (:mod:`shipkey.licensing.pools`). Kept on the row, which every delivery has read already."""
    stamp: Mapped[bool] = mapped_column(Boolean, default=False)
    meta: Mapped[dict[str, Any]] = mapped_column("metadata", JSONDict, default=dict)
    active: Mapped[bool] = mapped_column(Boolean, default=True)

    file_key: Mapped[str | None] = mapped_column(String(512), nullable=True)
    file_name: Mapped[str | None] = mapped_column(String(255), nullable=True)
    file_size: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    file_mime_type: Mapped[str | None] = mapped_column(String(255), nullable=True)
    file_sha256: Mapped[str | None] = mapped_column(String(64), nullable=True)
    file_uploaded_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)

    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

    @property
    def has_file(self) -> bool:
        return self.file_key is not None

    @property
    def has_license(self) -> bool:
        return self.license_type is not None


class UploadSession(Base):
    """A resumable upload of a product file: the bytes so far wait in the data folder.

    ``received`` is how many bytes are safely stored; a chunk must start there. A chunk being
    written holds ``locked_until``, so two clients cannot write the same session at once.
    """

    __tablename__ = "upload_sessions"

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=lambda: new_id("upl"))
    product_id: Mapped[str] = mapped_column(ForeignKey("products.id"))
    file_name: Mapped[str] = mapped_column(String(255))
    mime_type: Mapped[str] = mapped_column(String(255))
    size: Mapped[int] = mapped_column(BigInteger)
    received: Mapped[int] = mapped_column(BigInteger, default=0)
    sha256: Mapped[str | None] = mapped_column(String(64), nullable=True)
    locked_until: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
