"""What the admin API answers about a purchase: its row with the links, licenses and access
it delivered (:class:`~shipkey.sales.queries.PurchaseDetail`)."""

from __future__ import annotations

from datetime import datetime

from pydantic import AliasPath, ConfigDict, Field

from shipkey.clock import utcnow
from shipkey.fulfilment.models import AccessKind
from shipkey.licensing.schemas import LicenseSummary
from shipkey.orders.models import PurchaseStatus
from shipkey.sales.queries import CustomerDetail, PurchaseDetail
from shipkey.schemas import ApiModel


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


class ConsentRead(ApiModel):
    """The buyer's consent to immediate delivery (the right of withdrawal, § 356 (5) BGB)."""

    model_config = ConfigDict(from_attributes=True)

    accepted_at: datetime
    text: str = Field(description="The words the buyer agreed to, in their language.")
    text_version: str
    ip_address: str | None


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
    consent: ConsentRead | None = None
    invoice_url: str | None = Field(
        default=None, description="Stripe's page of the invoice, when Stripe made one."
    )


class PurchaseRead(_PurchaseRow):
    licenses: list[LicenseSummary]
    downloads: list[DownloadRead]
    access: list[AccessRead] = Field(default_factory=list)

    @classmethod
    def of(cls, detail: PurchaseDetail) -> PurchaseRead:
        """The purchase's row with what it delivered, which is read beside it."""
        now = utcnow()
        return cls(
            **dict(_PurchaseRow.model_validate(detail.purchase)),
            licenses=[LicenseSummary.of(lic, now) for lic in detail.licenses],
            downloads=[DownloadRead.model_validate(link) for link in detail.links],
            access=[AccessRead.model_validate(grant) for grant in detail.access],
        )


class PurchaseCreated(PurchaseRead):
    """The answer to creating a purchase: what was delivered, with the raw link tokens."""

    download_links: list[LinkRead] = Field(default_factory=list)


class CustomerPurchase(ApiModel):
    """A purchase as a buyer's record lists it."""

    model_config = ConfigDict(from_attributes=True)

    id: str
    status: PurchaseStatus
    product: str = Field(
        validation_alias=AliasPath("product", "slug"), description="The product's slug."
    )
    amount: int
    currency: str
    created_at: datetime


class CustomerRead(ApiModel):
    """A buyer and their purchases, newest first."""

    id: str
    email: str
    name: str | None
    locale: str | None
    created_at: datetime
    purchases: list[CustomerPurchase]

    @classmethod
    def of(cls, detail: CustomerDetail) -> CustomerRead:
        customer = detail.customer
        return cls(
            id=customer.id,
            email=customer.email,
            name=customer.name,
            locale=customer.locale,
            created_at=customer.created_at,
            purchases=[CustomerPurchase.model_validate(p) for p in detail.purchases],
        )
