"""The risk API's JSON: events, and the evidence a purchase has."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import ConfigDict, Field

from shipkey.risk.models import RiskKind, RiskStatus
from shipkey.schemas import ApiModel


class RiskEventRead(ApiModel):
    """``{id, at, kind, purchaseId, licenseKey, details, status}``: a rule's hit."""

    id: str
    at: datetime
    kind: RiskKind
    purchase_id: str | None
    license_key: str | None
    details: dict[str, Any]
    status: RiskStatus
    cleared_at: datetime | None = None


class EvidenceEmail(ApiModel):
    """An e-mail to the buyer; ``sentAt`` is when the SMTP server accepted it (None: not yet)."""

    sent_at: datetime | None
    to: str
    subject: str


class EvidenceDownload(ApiModel):
    at: datetime
    ip_address: str | None
    user_agent: str | None
    bytes: int


class EvidenceActivation(ApiModel):
    model_config = ConfigDict(from_attributes=True)

    license_key: str
    machine_id: str
    machine_name: str | None
    ip: str | None
    activated_at: datetime
    deactivated_at: datetime | None
    last_seen_at: datetime | None


class EvidenceValidations(ApiModel):
    """What validation recorded of the purchase's licenses. Validation writes sparsely (the
    hot path), so ``count`` is the number of (license, network, day) sightings, not of calls;
    ``last`` is the latest of a sighting or a machine's last-seen time."""

    count: int
    first: datetime | None
    last: datetime | None
    networks: list[str]


class EvidenceSignIn(ApiModel):
    at: datetime
    ip_address: str | None = Field(
        default=None,
        description="The address the sign-in link was used from (cut to its "
        "network after SHIPKEY_IP_RETENTION_DAYS).",
    )
    user_agent: str | None = Field(
        default=None,
        description="The browser it was used from (dropped after SHIPKEY_IP_RETENTION_DAYS).",
    )


class EvidencePurchase(ApiModel):
    id: str
    status: str
    product: str
    product_name: str
    amount: int
    currency: str
    created_at: datetime
    completed_at: datetime | None
    delivered_at: datetime | None
    stripe_payment_intent_id: str | None


class EvidenceCustomer(ApiModel):
    email: str | None
    name: str | None
    locale: str | None
    since: datetime | None


class EvidenceRead(ApiModel):
    """Everything shipkey knows that shows the buyer received and used what they paid for."""

    purchase: EvidencePurchase
    customer: EvidenceCustomer
    consent: dict[str, Any] | None
    emails: list[EvidenceEmail]
    downloads: list[EvidenceDownload]
    activations: list[EvidenceActivation]
    validations: EvidenceValidations
    sign_ins: list[EvidenceSignIn]
