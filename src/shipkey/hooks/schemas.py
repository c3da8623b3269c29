"""Seller webhook API shapes (camelCase on the wire)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal
from urllib.parse import urlsplit

from pydantic import AfterValidator, ConfigDict, Field

from shipkey.hooks.models import DeliveryStatus
from shipkey.schemas import ApiModel, InputModel

EventType = Literal[
    "purchase.completed",
    "purchase.refunded",
    "purchase.disputed",
    "license.created",
    "license.activated",
    "license.deactivated",
    "license.suspended",
    "license.reinstated",
    "license.revoked",
    "access.granted",
    "access.revoked",
    "delivery.failed",
    "risk.flagged",
    "release.published",
    "ping",
]
"""Every type an endpoint can ask for; :data:`shipkey.hooks.outbox.EVENT_TYPES` is read from it."""


def _check_url(value: str) -> str:
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError("must be an http:// or https:// URL with a host")
    try:
        _ = parts.port
    except ValueError:
        raise ValueError("must be an http:// or https:// URL with a valid port") from None
    return value


EndpointUrl = Annotated[
    str,
    Field(
        min_length=8,
        max_length=2000,
        pattern=r"^[hH][tT][tT][pP][sS]?://[^\s/?#@]+(?:[/?#]\S*)?$",
        description="Where events are POSTed: an http:// or https:// URL.",
        examples=["https://example.com/webhooks/shipkey"],
    ),
    AfterValidator(_check_url),
]
Events = Annotated[
    list[EventType],
    Field(
        max_length=30,
        description="The event types the endpoint hears about; empty or missing: all of them.",
    ),
]
Description = Annotated[str, Field(max_length=500, description="A note for the seller.")]


class EndpointCreate(InputModel):
    url: EndpointUrl
    events: Events | None = None
    description: Description = ""


class EndpointUpdate(InputModel):
    url: EndpointUrl | None = None
    events: Events | None = None
    description: Description | None = None
    enabled: bool | None = Field(
        default=None, description="false pauses deliveries; true again also ends a failing run."
    )


class EndpointRead(ApiModel):
    """An endpoint as lists and reads show it: without its secret."""

    model_config = ConfigDict(from_attributes=True)

    id: str
    url: str
    events: list[str] = Field(description="Empty: every event type.")
    description: str
    enabled: bool
    failing_since: datetime | None = Field(
        description="When the current run of failed deliveries began; null when none."
    )
    disabled_reason: str | None
    created_at: datetime


class EndpointCreated(EndpointRead):
    secret: str = Field(description="`whsec_` + base64 of 32 random bytes: the signing key.")


class EndpointSecret(ApiModel):
    id: str
    secret: str


class DeliveryRead(ApiModel):
    model_config = ConfigDict(from_attributes=True)

    id: str
    event_id: str
    type: str
    status: DeliveryStatus
    attempts: int
    last_status_code: int | None
    last_error: str | None
    next_attempt_at: datetime | None
    delivered_at: datetime | None
    created_at: datetime


class ErrorRead(ApiModel):
    """Every error answer."""

    error: str = Field(description="What went wrong, for a person.")
    code: str = Field(description="What went wrong, for a program.")
