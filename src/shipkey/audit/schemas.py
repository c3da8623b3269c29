"""The audit log as the admin API shows it."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import ConfigDict, Field

from shipkey.schemas import ApiModel


class AuditEntryRead(ApiModel):
    model_config = ConfigDict(from_attributes=True)

    id: str
    seq: int = Field(description="The entry's place in the chain: 1, 2, 3, …")
    at: datetime
    actor: str = Field(description="The admin token's name, the seller's name, or cli:<user>.")
    action: str
    target: str | None
    ip_address: str | None
    details: dict[str, Any]
    prev_hash: str
    hash: str = Field(description="SHA-256 over the previous hash and this entry's canonical JSON.")
