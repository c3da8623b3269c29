"""Purchase API shapes."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import EmailStr, Field, field_validator

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
    id: str
    created_at: datetime
    expires_at: datetime
    downloaded_at: datetime | None
    revoked_at: datetime | None
    ip_address: str | None
    user_agent: str | None

    @classmethod
    def of(cls, download: Download) -> DownloadRead:
        return cls(
            id=download.id,
            created_at=download.created_at,
            expires_at=download.expires_at,
            downloaded_at=download.downloaded_at,
            revoked_at=download.revoked_at,
            ip_address=download.ip_address,
            user_agent=download.user_agent,
        )


class AccessRead(ApiModel):
    kind: AccessKind
    created_at: datetime
    expires_at: datetime | None
    revoked_at: datetime | None

    @classmethod
    def of(cls, grant: AccessGrant) -> AccessRead:
        return cls(
            kind=grant.kind,
            created_at=grant.created_at,
            expires_at=grant.expires_at,
            revoked_at=grant.revoked_at,
        )


class LinkRead(ApiModel):
    token: str
    download_url: str
    expires_at: datetime


class PurchaseRead(ApiModel):
    id: str
    status: PurchaseStatus
    email: str | None
    name: str | None
    locale: str | None
    product: str = Field(description="The product's slug.")
    product_id: str
    product_name: str
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
        now = utcnow()
        return cls(
            id=purchase.id,
            status=purchase.status,
            email=purchase.email,
            name=purchase.name,
            locale=purchase.locale,
            product=purchase.product.slug,
            product_id=purchase.product_id,
            product_name=purchase.product.name,
            amount=purchase.amount,
            currency=purchase.currency,
            source=purchase.source,
            created_at=purchase.created_at,
            completed_at=purchase.completed_at,
            delivered_at=purchase.delivered_at,
            refunded_at=purchase.refunded_at,
            amount_refunded=purchase.amount_refunded,
            download_count=purchase.download_count,
            max_downloads=purchase.max_downloads,
            downloads_left=purchase.downloads_left,
            licenses=[LicenseSummary.of(lic, now) for lic in licenses],
            downloads=[DownloadRead.of(d) for d in downloads],
            access=[AccessRead.of(grant) for grant in grants or []],
        )


class PurchaseCreated(PurchaseRead):
    """The answer to creating a purchase: what was delivered, with the raw link tokens."""

    download_links: list[LinkRead] = Field(default_factory=list)
