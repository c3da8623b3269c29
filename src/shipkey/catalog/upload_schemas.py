"""Resumable upload API shapes."""

from __future__ import annotations

from datetime import datetime

from pydantic import ConfigDict, Field

from shipkey.catalog.schemas import MEDIA_TYPE_PATTERN, ProductFile
from shipkey.http.files import FILENAME_PATTERN
from shipkey.http.openapi import at_most_setting
from shipkey.schemas import ApiModel, InputModel

OPTIONAL_MEDIA_TYPE = f"^\\s*({MEDIA_TYPE_PATTERN[1:-1]})?\\s*$"


class UploadCreate(InputModel):
    file_name: str = Field(
        min_length=1, max_length=1024, json_schema_extra={"pattern": FILENAME_PATTERN}
    )
    size: int = Field(
        ge=0,
        le=5 * 1024**4,
        description="Bytes; at most SHIPKEY_MAX_UPLOAD_BYTES (413 `PAYLOAD_TOO_LARGE` beyond).",
        json_schema_extra=at_most_setting("max_upload_bytes"),
    )
    content_type: str | None = Field(
        default=None,
        max_length=255,
        description="The file's media type; empty or absent: guessed from the name.",
        json_schema_extra={"pattern": OPTIONAL_MEDIA_TYPE},
    )
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
