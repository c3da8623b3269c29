"""The webhook event log: every event received, once (``UNIQUE(provider, event_id)``)."""

from __future__ import annotations

import enum
from datetime import datetime
from typing import Any

from sqlalchemy import Enum, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from shipkey.clock import utcnow
from shipkey.db.types import Base, JSONDict, UTCDateTime
from shipkey.ids import new_id

PROVIDER = "stripe"
"""The provider of the events stored (the log's key is ``(provider, event_id)``)."""


class EventStatus(enum.StrEnum):
    RECEIVED = "RECEIVED"
    """Stored; its effect is being applied (or will be, by the worker)."""
    PROCESSED = "PROCESSED"
    WAITING = "WAITING"
    """It refers to a purchase that is not there yet; the worker tries again with backoff."""
    IGNORED = "IGNORED"
    """A type shipkey does not act on, or a sale that is not shipkey's."""
    FAILED = "FAILED"


class WebhookEvent(Base):
    __tablename__ = "webhook_events"
    __table_args__ = (
        UniqueConstraint("provider", "event_id", name="uq_webhook_events_provider_event_id"),
        Index("ix_webhook_events_received", "received_at"),
    )

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=lambda: new_id("whe"))
    provider: Mapped[str] = mapped_column(String(16))
    event_id: Mapped[str] = mapped_column(String(255))
    type: Mapped[str] = mapped_column(String(100))
    status: Mapped[EventStatus] = mapped_column(
        Enum(EventStatus, native_enum=False, length=16), default=EventStatus.RECEIVED
    )
    object_id: Mapped[str | None] = mapped_column(String(255), nullable=True, index=True)
    livemode: Mapped[bool] = mapped_column(default=False)
    payload: Mapped[dict[str, Any]] = mapped_column(JSONDict)
    purchase_id: Mapped[str | None] = mapped_column(String(32), nullable=True, index=True)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    error: Mapped[str | None] = mapped_column(Text, nullable=True)
    received_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    processed_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
