"""Delivery (outbox) API shapes."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import Field

from shipkey.mail.models import MailMessage, MailStatus
from shipkey.schemas import ApiModel

StatusFilter = Literal["failed", "pending", "sent"]


class DeliveryRead(ApiModel):
    id: str
    kind: str
    to: str
    locale: str
    subject: str
    status: MailStatus
    attempts: int
    last_error: str | None
    purchase_id: str | None
    created_at: datetime
    sent_at: datetime | None
    message_id: str | None = Field(description="The Message-ID header, once sent.")

    @classmethod
    def of(cls, message: MailMessage) -> DeliveryRead:
        return cls(
            id=message.id,
            kind=message.kind,
            to=message.to_address,
            locale=message.locale,
            subject=message.subject,
            status=message.status,
            attempts=message.attempts,
            last_error=message.last_error,
            purchase_id=message.purchase_id,
            created_at=message.created_at,
            sent_at=message.sent_at,
            message_id=message.message_id,
        )
