"""Purchase API shapes."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import AliasPath, ConfigDict, EmailStr, Field, field_validator

from shipkey.clock import utcnow
from shipkey.downloads.models import Download
from shipkey.fulfilment.models import AccessGrant, AccessKind
from shipkey.licensing.models import License
from shipkey.licensing.schemas import LicenseSummary
from shipkey.orders.models import Purchase, PurchaseStatus
from shipkey.schemas import ApiModel, InputModel

Locale = Literal["en", "de"]


class PurchaseCreate(InputModel):
    product: str = Field(min_length=1, max_length=64, description="Product id or slug.")
    email: EmailStr
    name: str | None = Field(default=None, max_length=200)
    locale: Locale | None = None
    amount: int | None = Field(default=None, ge=0, le=100_000_000)
    currency: str | None = Field(default=None, min_length=3, max_length=3)
    status: Literal[PurchaseStatus.COMPLETED, PurchaseStatus.PENDING] = PurchaseStatus.COMPLETED
    max_downloads: int | None = Field(default=None, ge=1, le=10_000)

    @field_validator("currency")
    @classmethod
    def _currency(cls, value: str | None) -> str | None:
        if value is None:
            return None
        if not value.isalpha():
            raise ValueError("must be a three-letter ISO 4217 code such as EUR")
        return value.upper()


class DownloadRead(ApiModel):
    model_config = ConfigDict(from_attributes=True)

    id: str
    created_at: datetime
    expires_at: datetime
    downloaded_at: datetime | None
    revoked_at: datetime | None
    ip_address: str | None
    user_agent: str | None


class AccessRead(ApiModel):
    model_config = ConfigDict(from_attributes=True)

    kind: AccessKind
    created_at: datetime
    expires_at: datetime | None
    revoked_at: datetime | None


class LinkRead(ApiModel):
    token: str
    download_url: str
    expires_at: datetime


class _PurchaseRow(ApiModel):
    """The fields of a purchase that its row holds (its product's slug and name included)."""

    model_config = ConfigDict(from_attributes=True)

    id: str
    status: PurchaseStatus
    email: str | None
    name: str | None
    locale: str | None
    product: str = Field(
        validation_alias=AliasPath("product", "slug"), description="The product's slug."
    )
    product_id: str
    product_name: str = Field(validation_alias=AliasPath("product", "name"))
    amount: int
    currency: str
    source: str
    created_at: datetime
    completed_at: datetime | None
    delivered_at: datetime | None
    refunded_at: datetime | None
    amount_refunded: int
    download_count: int
    max_downloads: int
    downloads_left: int


class PurchaseRead(_PurchaseRow):
    licenses: list[LicenseSummary]
    downloads: list[DownloadRead]
    access: list[AccessRead] = Field(default_factory=list)

    @classmethod
    def of(
        cls,
        purchase: Purchase,
        downloads: list[Download],
        licenses: list[License],
        grants: list[AccessGrant] | None = None,
    ) -> PurchaseRead:
        """The purchase's row with what it delivered, which is read beside it."""
        now = utcnow()
        return cls(
            **dict(_PurchaseRow.model_validate(purchase)),
            licenses=[LicenseSummary.of(lic, now) for lic in licenses],
            downloads=[DownloadRead.model_validate(d) for d in downloads],
            access=[AccessRead.model_validate(grant) for grant in grants or []],
        )


class PurchaseCreated(PurchaseRead):
    """The answer to creating a purchase: what was delivered, with the raw link tokens."""

    download_links: list[LinkRead] = Field(default_factory=list)
