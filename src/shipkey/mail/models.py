"""Outgoing e-mail, rendered when queued and kept after sending (the delivery log)."""

from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import Enum, ForeignKey, Index, Integer, String, Text, text
from sqlalchemy.orm import Mapped, mapped_column

from shipkey.clock import utcnow
from shipkey.db.types import Base, UTCDateTime
from shipkey.ids import new_id


class MailStatus(enum.StrEnum):
    PENDING = "PENDING"
    SENT = "SENT"
    FAILED = "FAILED"


class MailKind(enum.StrEnum):
    """The messages shipkey writes; each has templates in ``templates/mail/``."""

    DELIVERY = "delivery"
    PAYMENT_FAILED = "payment_failed"
    REVOKED = "revoked"
    SELLER_ALERT = "seller_alert"
    LOGIN = "login"
    RISK_FLAGGED = "risk_flagged"
    FRAUD_REFUND = "fraud_refund"
    DISPUTE_EVIDENCE = "dispute_evidence"


BODIES_KEPT = "status = 'SENT' AND text_body <> ''"


class MailMessage(Base):
    """One e-mail to one address. ``message_id`` is its ``Message-ID`` header once sent."""

    __tablename__ = "mail_messages"
    __table_args__ = (
        Index("ix_mail_messages_status_created", "status", "created_at"),
        Index("ix_mail_messages_created_id", "created_at", "id"),
        # The dashboard's deliveries per day, read from the index alone.
        Index("ix_mail_messages_kind_status_sent", "kind", "status", "sent_at"),
        # Sent e-mails whose bodies are still kept: what pruning visits (and then leaves).
        Index(
            "ix_mail_messages_bodies_kept",
            "sent_at",
            sqlite_where=text(BODIES_KEPT),
            postgresql_where=text(BODIES_KEPT),
        ),
    )

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=lambda: new_id("msg"))
    kind: Mapped[str] = mapped_column(String(32))
    to_address: Mapped[str] = mapped_column(String(320))
    locale: Mapped[str] = mapped_column(String(8))
    subject: Mapped[str] = mapped_column(String(300))
    text_body: Mapped[str] = mapped_column(Text)
    html_body: Mapped[str] = mapped_column(Text)
    purchase_id: Mapped[str | None] = mapped_column(
        ForeignKey("purchases.id"), nullable=True, index=True
    )
    status: Mapped[MailStatus] = mapped_column(
        Enum(MailStatus, native_enum=False, length=16), default=MailStatus.PENDING
    )
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str | None] = mapped_column(Text, nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    message_id: Mapped[str | None] = mapped_column(String(255), nullable=True)
    job_id: Mapped[str | None] = mapped_column(String(32), nullable=True)
