"""Resumable upload API shapes."""

from __future__ import annotations

from datetime import datetime

from pydantic import ConfigDict, Field

from shipkey.catalog.schemas import ProductFile
from shipkey.schemas import ApiModel, InputModel


class UploadCreate(InputModel):
    file_name: str = Field(min_length=1, max_length=1024)
    size: int = Field(ge=0, le=5 * 1024**4)
    content_type: str | None = Field(default=None, max_length=255)
    sha256: str | None = Field(default=None, pattern=r"^[0-9a-fA-F]{64}$")


# An upload session; ``complete``, with the ``file`` it became, once the last byte is in.
class UploadRead(ApiModel):
    model_config = ConfigDict(from_attributes=True)

    id: str
    product_id: str
    file_name: str
    size: int
    received: int
    expires_at: datetime
    complete: bool = False
    file: ProductFile | None = None
