"""What a buyer's export holds: everything shipkey keeps about them, as JSON."""

from __future__ import annotations

from datetime import datetime

from pydantic import ConfigDict, Field

from shipkey.licensing.schemas import ActivationRead
from shipkey.mail.schemas import DeliveryRead
from shipkey.sales.schemas import PurchaseRead
from shipkey.schemas import ApiModel


class CustomerRead(ApiModel):
    model_config = ConfigDict(from_attributes=True)

    id: str
    email: str
    name: str | None
    locale: str | None
    created_at: datetime
    erased_at: datetime | None


class LicenseExport(ApiModel):
    key: str
    status: str
    product: str
    purchase_id: str | None
    created_at: datetime
    expires_at: datetime | None
    activations: list[ActivationRead]


class EmailExport(DeliveryRead):
    text_body: str = Field(description="The message as sent (its plain-text part).")


class SignInLinkExport(ApiModel):
    model_config = ConfigDict(from_attributes=True)

    purpose: str
    created_at: datetime
    expires_at: datetime
    used_at: datetime | None
    ip_address: str | None = None
    user_agent: str | None = None


class SessionExport(ApiModel):
    model_config = ConfigDict(from_attributes=True)

    created_at: datetime
    expires_at: datetime


class CustomerExport(ApiModel):
    exported_at: datetime
    customer: CustomerRead
    purchases: list[PurchaseRead]
    licenses: list[LicenseExport]
    emails: list[EmailExport]
    sign_in_links: list[SignInLinkExport]
    sessions: list[SessionExport] = Field(description="The buyer's signed-in browser sessions.")


class ErasureRead(ApiModel):
    customer: CustomerRead
    purchases: int = Field(description="Purchases kept, without personal data.")
    emails_stopped: int = Field(description="Queued e-mails to the buyer that will not be sent.")
    sessions_ended: int
    stamped_copies: int = Field(description="Personal copies queued for deletion from storage.")
