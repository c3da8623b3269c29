"""Purchase API shapes."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, field_validator

from shipkey.orders.models import PurchaseStatus
from shipkey.schemas import Email, InputModel

Locale = Literal["en", "de"]


class PurchaseCreate(InputModel):
    product: str = Field(min_length=1, max_length=64, description="Product id or slug.")
    email: Email
    name: str | None = Field(default=None, max_length=200)
    locale: Locale | None = None
    amount: int | None = Field(default=None, ge=0, le=100_000_000)
    currency: str | None = Field(
        default=None,
        pattern=r"^[A-Za-z]{3}$",
        description="ISO 4217 code, three letters (stored upper case); default the product's.",
    )
    status: Literal[PurchaseStatus.COMPLETED, PurchaseStatus.PENDING] = PurchaseStatus.COMPLETED
    max_downloads: int | None = Field(default=None, ge=1, le=10_000)

    @field_validator("currency")
    @classmethod
    def _currency(cls, value: str | None) -> str | None:
        if value is None:
            return None
        return value.upper()
