"""License keys and the machines they are activated on."""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, Literal

from sqlalchemy import (
    Boolean,
    CheckConstraint,
    Date,
    Enum,
    ForeignKey,
    Index,
    Integer,
    String,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from shipkey.catalog.models import LicenseType, Product
from shipkey.clock import utcnow
from shipkey.db.types import Base, UTCDateTime, trigram_index
from shipkey.ids import new_id


class LicenseStatus(enum.StrEnum):
    ACTIVE = "ACTIVE"
    SUSPENDED = "SUSPENDED"
    REVOKED = "REVOKED"
    EXPIRED = "EXPIRED"


ValidationCode = Literal[
    "VALID",
    "INVALID_FORMAT",
    "NOT_FOUND",
    "PRODUCT_MISMATCH",
    "SUSPENDED",
    "REVOKED",
    "EXPIRED",
    "NOT_ACTIVATED",
]
"""The answers of ``POST /api/licenses/validate``."""


class License(Base):
    """One license key: who may use which product on how many machines, until when.

    ``activation_count`` is the seat counter. It only changes through conditional UPDATEs
    (see :mod:`shipkey.licensing.seats`) and always equals the number of active rows in
    ``license_activations``.
    """

    __tablename__ = "licenses"
    __table_args__ = (
        CheckConstraint("activation_count >= 0", name="activation_count_positive"),
        CheckConstraint(
            "activation_count <= max_activations", name="activation_count_within_limit"
        ),
        Index("ix_licenses_created_id", "created_at", "id"),
        trigram_index("ix_licenses_key_trgm", "key"),
        Index("ix_licenses_status_created_at_id", "status", "created_at", "id"),
        Index("ix_licenses_product_created_at_id", "product_id", "created_at", "id"),
        Index("ix_licenses_customer_created_at_id", "customer_id", "created_at", "id"),
    )

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=lambda: new_id("lic"))
    key: Mapped[str] = mapped_column(String(64), unique=True)
    verbatim: Mapped[bool] = mapped_column(Boolean, default=False, server_default=text("false"))
    """A key made elsewhere (imported, or from a product's key pool), kept exactly as given: it
    need not have shipkey's format and is found by exact match (see :mod:`.keys`)."""
    product_id: Mapped[str] = mapped_column(ForeignKey("products.id"), index=True)
    customer_id: Mapped[str] = mapped_column(ForeignKey("customers.id"))
    purchase_id: Mapped[str | None] = mapped_column(
        ForeignKey("purchases.id"), nullable=True, index=True
    )
    license_type: Mapped[LicenseType] = mapped_column(
        Enum(LicenseType, native_enum=False, length=16)
    )
    status: Mapped[LicenseStatus] = mapped_column(
        Enum(LicenseStatus, native_enum=False, length=16), default=LicenseStatus.ACTIVE
    )
    max_activations: Mapped[int] = mapped_column(Integer)
    activation_count: Mapped[int] = mapped_column(Integer, default=0)
    expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)

    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    suspended_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    expired_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)

    product: Mapped[Product] = relationship(lazy="joined", innerjoin=True)

    def is_past_expiry(self, now: datetime) -> bool:
        return is_past_expiry(self.expires_at, now)

    def effective_status(self, now: datetime) -> LicenseStatus:
        """The status as of ``now``: an ACTIVE license past its expiry counts as EXPIRED."""
        return effective_status(self.status, self.expires_at, now)

    @property
    def features(self) -> list[str]:
        """The product's ``metadata.features`` (strings only; anything else is ignored)."""
        return product_features(self.product.meta)

    @property
    def product_name(self) -> str:
        return self.product.name


@dataclass(frozen=True, slots=True)
class LicenseView:
    """What a validation reads of a license and its product: a read-only snapshot, made from
    one row without the ORM (building mapped objects cost as much as the query)."""

    id: str
    key: str
    license_type: LicenseType
    status: LicenseStatus
    max_activations: int
    activation_count: int
    expires_at: datetime | None
    product: str
    """The product's slug."""
    product_name: str
    features: list[str]

    def is_past_expiry(self, now: datetime) -> bool:
        return is_past_expiry(self.expires_at, now)

    def effective_status(self, now: datetime) -> LicenseStatus:
        return effective_status(self.status, self.expires_at, now)


@dataclass(frozen=True, slots=True)
class SeatView:
    """A machine's active seat as a validation reads it."""

    id: str
    last_seen_at: datetime | None


def is_past_expiry(expires_at: datetime | None, now: datetime) -> bool:
    return expires_at is not None and expires_at <= now


def effective_status(
    status: LicenseStatus, expires_at: datetime | None, now: datetime
) -> LicenseStatus:
    """An ACTIVE license past its expiry counts as EXPIRED."""
    if status is LicenseStatus.ACTIVE and is_past_expiry(expires_at, now):
        return LicenseStatus.EXPIRED
    return status


def product_features(meta: dict[str, Any]) -> list[str]:
    value = meta.get("features")
    if not isinstance(value, list):
        return []
    return [item for item in value if isinstance(item, str)]


class DeactivatedBy(enum.StrEnum):
    BUYER = "BUYER"
    """The buyer's software or the buyer's page: counts against the product's limit."""
    SELLER = "SELLER"
    """The seller's reset: not counted."""


class LicenseActivation(Base):
    """One machine's seat on a license. A deactivated row stays as history.

    At most one active row per (license, machine): a partial unique index, so a machine that
    was deactivated can be activated again.
    """

    __tablename__ = "license_activations"
    __table_args__ = (
        Index(
            "uq_license_activations_active_machine",
            "license_id",
            "machine_id",
            unique=True,
            sqlite_where=text("deactivated_at IS NULL"),
            postgresql_where=text("deactivated_at IS NULL"),
        ),
    )

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=lambda: new_id("act"))
    license_id: Mapped[str] = mapped_column(ForeignKey("licenses.id"), index=True)
    machine_id: Mapped[str] = mapped_column(String(255))
    machine_name: Mapped[str | None] = mapped_column(String(255), nullable=True)
    ip: Mapped[str | None] = mapped_column(String(64), nullable=True)
    activated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    deactivated_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    deactivated_by: Mapped[DeactivatedBy | None] = mapped_column(
        Enum(DeactivatedBy, native_enum=False, length=16), nullable=True
    )
    last_seen_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)

    @property
    def active(self) -> bool:
        return self.deactivated_at is None


class LicenseSighting(Base):
    """A network a license was validated from, once per UTC day: what the sharing rule counts.

    Written by a validation's sparse write (:func:`shipkey.licensing.validation.record_sightings`)
    the first time a (license, network, day) is seen, so the hot read never waits for it.
    """

    __tablename__ = "license_sightings"

    license_id: Mapped[str] = mapped_column(ForeignKey("licenses.id"), primary_key=True)
    day: Mapped[date] = mapped_column(Date, primary_key=True)
    network: Mapped[str] = mapped_column(String(64), primary_key=True)
    first_at: Mapped[datetime] = mapped_column(UTCDateTime)
    """When the network was first seen that day."""


class PoolKey(Base):
    """A key the seller uploaded for a product: handed out in order (``created_at``, ``seq``)
    instead of a generated one. ``license_id`` is set when a sale claims it."""

    __tablename__ = "license_key_pool"
    __table_args__ = (
        UniqueConstraint("key", name="uq_license_key_pool_key"),
        Index("ix_license_key_pool_product_free", "product_id", "license_id", "created_at", "seq"),
    )

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=lambda: new_id("pk"))
    product_id: Mapped[str] = mapped_column(ForeignKey("products.id"))
    key: Mapped[str] = mapped_column(String(64))
    seq: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    license_id: Mapped[str | None] = mapped_column(ForeignKey("licenses.id"), nullable=True)
    claimed_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)


class PoolWait(Base):
    """A purchase of a product whose key pool was empty: it gets the next key added."""

    __tablename__ = "license_key_pool_waits"
    __table_args__ = (
        Index("ix_license_key_pool_waits_open", "product_id", "filled_at", "created_at"),
    )

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=lambda: new_id("pw"))
    purchase_id: Mapped[str] = mapped_column(ForeignKey("purchases.id"), unique=True)
    product_id: Mapped[str] = mapped_column(ForeignKey("products.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    filled_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
