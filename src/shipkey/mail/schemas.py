"""Delivery (outbox) API shapes."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import ConfigDict, Field

from shipkey.mail.models import MailStatus
from shipkey.schemas import ApiModel

StatusFilter = Literal["failed", "pending", "sent"]


class DeliveryRead(ApiModel):
    model_config = ConfigDict(from_attributes=True)

    id: str
    kind: str
    to: str = Field(validation_alias="to_address")
    locale: str
    subject: str
    status: MailStatus
    attempts: int
    last_error: str | None
    purchase_id: str | None
    created_at: datetime
    sent_at: datetime | None
    message_id: str | None = Field(description="The Message-ID header, once sent.")
