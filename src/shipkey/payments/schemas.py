"""Checkout and webhook API shapes."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import ConfigDict, Field

from shipkey.payments.models import EventStatus
from shipkey.schemas import ApiModel, Email, InputModel


class CheckoutCreate(InputModel):
    product: str = Field(min_length=1, max_length=64, description="Product id or slug.")
    email: Email | None = Field(default=None, description="Prefills Stripe's form.")
    locale: Literal["en", "de"] | None = Field(
        default=None, description="The buyer's language for Checkout and e-mail."
    )
    consent: bool = Field(
        default=False,
        description="With SHIPKEY_WITHDRAWAL_WAIVER=on: the buyer expressly agreed that delivery "
        "starts at once and that their right of withdrawal ends with it (required then).",
    )


class CheckoutCreated(ApiModel):
    url: str = Field(description="Stripe Checkout: send the buyer there.")
    purchase_id: str
    session_id: str


class WebhookReceived(ApiModel):
    received: bool = True
    duplicate: bool
    status: EventStatus | None = Field(description="What the event did; null for a duplicate.")


class WebhookEventRead(ApiModel):
    model_config = ConfigDict(from_attributes=True)

    id: str
    provider: str
    event_id: str
    type: str
    status: EventStatus
    purchase_id: str | None
    attempts: int
    error: str | None
    received_at: datetime
    processed_at: datetime | None


EventStatusFilter = Literal["received", "processed", "waiting", "ignored", "failed"]
