"""Download API shapes."""

from __future__ import annotations

from datetime import datetime

from pydantic import Field

from shipkey.downloads.signed import MAX_SIGNED_URL_SECONDS
from shipkey.schemas import ApiModel, InputModel


class SignedUrlCreate(InputModel):
    product: str = Field(min_length=1, max_length=64, description="Product id or slug.")
    expires_in: int = Field(default=3600, ge=1, le=MAX_SIGNED_URL_SECONDS, description="Seconds.")


class SignedUrlRead(ApiModel):
    url: str
    expires_at: datetime
