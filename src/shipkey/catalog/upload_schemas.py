"""Resumable upload API shapes."""

from __future__ import annotations

from datetime import datetime

from pydantic import Field

from shipkey.catalog.models import UploadSession
from shipkey.catalog.schemas import ProductFile
from shipkey.schemas import ApiModel, InputModel


class UploadCreate(InputModel):
    file_name: str = Field(min_length=1, max_length=1024)
    size: int = Field(ge=0, le=5 * 1024**4)
    content_type: str | None = Field(default=None, max_length=255)
    sha256: str | None = Field(default=None, pattern=r"^[0-9a-fA-F]{64}$")


class UploadRead(ApiModel):
    id: str
    product_id: str
    file_name: str
    size: int
    received: int
    expires_at: datetime
    complete: bool = False
    file: ProductFile | None = None

    @classmethod
    def of(cls, upload: UploadSession, file: ProductFile | None = None) -> UploadRead:
        return cls(
            id=upload.id,
            product_id=upload.product_id,
            file_name=upload.file_name,
            size=upload.size,
            received=upload.size if file is not None else upload.received,
            expires_at=upload.expires_at,
            complete=file is not None,
            file=file,
        )
