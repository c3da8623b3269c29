"""Buyers and their purchases."""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import CheckConstraint, Enum, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from shipkey.catalog.models import Product
from shipkey.clock import utcnow
from shipkey.db.types import Base, UTCDateTime, trigram_index
from shipkey.ids import new_id


class PurchaseStatus(enum.StrEnum):
    PENDING = "PENDING"
    COMPLETED = "COMPLETED"
    FAILED = "FAILED"
    REFUNDED = "REFUNDED"
    DISPUTED = "DISPUTED"


@dataclass(frozen=True, slots=True)
class Consent:
    """When the buyer agreed that delivery starts at once and that their right of withdrawal
    ends with it, to which words (and their version), from which address."""

    accepted_at: datetime
    text: str
    text_version: str
    ip_address: str | None


class Customer(Base):
    """A buyer, known by e-mail address (stored lower-cased)."""

    __tablename__ = "customers"

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=lambda: new_id("cus"))
    email: Mapped[str] = mapped_column(String(320), unique=True)
    name: Mapped[str | None] = mapped_column(String(200), nullable=True)
    locale: Mapped[str | None] = mapped_column(String(8), nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    erased_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    """When the buyer's personal data was erased (their address is then ``erased-<id>@invalid``)."""

    __table_args__ = (
        trigram_index("ix_customers_email_trgm", "email"),
        Index("ix_customers_created_at_id", "created_at", "id"),
    )


class Purchase(Base):
    """One order of one product by one buyer."""

    __tablename__ = "purchases"
    __table_args__ = (
        CheckConstraint("download_count >= 0", name="download_count_positive"),
        CheckConstraint("download_count <= max_downloads", name="download_count_within_limit"),
        Index("ix_purchases_customer_created", "customer_id", "created_at"),
        Index("ix_purchases_created_id", "created_at", "id"),
        # The dashboard's sales per day, read from the index alone.
        Index("ix_purchases_completed_sales", "completed_at", "status", "currency", "amount"),
        Index("ix_purchases_status", "status"),
        trigram_index("ix_purchases_email_trgm", "email"),
        Index("ix_purchases_status_created_at_id", "status", "created_at", "id"),
        Index("ix_purchases_product_created_at_id", "product_id", "created_at", "id"),
        Index("ix_purchases_email_created_at_id", "email", "created_at", "id"),
        # A sale imported from another platform is imported once: (platform, its order id).
        Index("uq_purchases_source_external_id", "source", "external_id", unique=True),
    )

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=lambda: new_id("pur"))
    product_id: Mapped[str] = mapped_column(ForeignKey("products.id"), index=True)
    customer_id: Mapped[str | None] = mapped_column(ForeignKey("customers.id"), nullable=True)
    email: Mapped[str | None] = mapped_column(String(320), nullable=True)
    name: Mapped[str | None] = mapped_column(String(200), nullable=True)
    locale: Mapped[str | None] = mapped_column(String(8), nullable=True)
    status: Mapped[PurchaseStatus] = mapped_column(
        Enum(PurchaseStatus, native_enum=False, length=16), default=PurchaseStatus.PENDING
    )
    amount: Mapped[int] = mapped_column(Integer, default=0)
    currency: Mapped[str] = mapped_column(String(3), default="EUR")
    source: Mapped[str] = mapped_column(String(32), default="admin")
    external_id: Mapped[str | None] = mapped_column(String(255), nullable=True)
    """The order's id on the platform it was imported from (``source`` names the platform)."""
    max_downloads: Mapped[int] = mapped_column(Integer, default=5)
    download_count: Mapped[int] = mapped_column(Integer, default=0)

    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    completed_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    fulfilled_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    delivered_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    refunded_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    failed_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    disputed_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    amount_refunded: Mapped[int] = mapped_column(Integer, default=0, server_default="0")

    # Stripe's ids for this sale (a Checkout Session, its payment or subscription).
    stripe_checkout_session_id: Mapped[str | None] = mapped_column(
        String(255), unique=True, nullable=True
    )
    stripe_payment_intent_id: Mapped[str | None] = mapped_column(
        String(255), index=True, nullable=True
    )
    stripe_subscription_id: Mapped[str | None] = mapped_column(
        String(255), index=True, nullable=True
    )
    stripe_customer_id: Mapped[str | None] = mapped_column(String(255), nullable=True)
    # Subscriptions: paid up to here (the latest invoice's period end); ended when cancelled.
    paid_until: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    under_review_since: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    """Set while a risk event holds the purchase (``SHIPKEY_RISK_ACTION=suspend``, or a Stripe
    early fraud warning): no new download link and no download until the seller clears it."""

    # The buyer's consent to immediate delivery, giving up the right of withdrawal (§ 356 (5)
    # BGB): when, the words agreed to and their version, and from which address.
    consent_accepted_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    consent_text: Mapped[str | None] = mapped_column(Text, nullable=True)
    consent_text_version: Mapped[str | None] = mapped_column(String(32), nullable=True)
    consent_ip: Mapped[str | None] = mapped_column(String(64), nullable=True)
    # Stripe's invoice for the sale (automatic tax), and its hosted page.
    stripe_invoice_id: Mapped[str | None] = mapped_column(String(255), nullable=True)
    invoice_url: Mapped[str | None] = mapped_column(String(2048), nullable=True)

    product: Mapped[Product] = relationship(lazy="joined", innerjoin=True)
    customer: Mapped[Customer] = relationship(lazy="raise")

    @property
    def consent(self) -> Consent | None:
        """The buyer's recorded consent to immediate delivery, if they gave it."""
        if self.consent_accepted_at is None:
            return None
        return Consent(
            accepted_at=self.consent_accepted_at,
            text=self.consent_text or "",
            text_version=self.consent_text_version or "",
            ip_address=self.consent_ip,
        )

    @property
    def downloads_left(self) -> int:
        return max(self.max_downloads - self.download_count, 0)
