"""Every model, imported once so that the metadata (and Alembic) sees all tables."""

from shipkey.admin.models import AdminToken
from shipkey.admin_ui.models import DashboardDay
from shipkey.audit.models import AuditEntry, AuditHead
from shipkey.catalog.models import LicenseType, Product, ProductType
from shipkey.db.types import Base
from shipkey.downloads.models import Download
from shipkey.fulfilment.models import AccessGrant, AccessKind
from shipkey.hooks.models import DeliveryStatus, OutboundEvent, WebhookDelivery, WebhookEndpoint
from shipkey.jobs.models import Job, JobStatus
from shipkey.licensing.models import (
    License,
    LicenseActivation,
    LicenseSighting,
    LicenseStatus,
    PoolKey,
    PoolWait,
)
from shipkey.mail.models import MailMessage, MailStatus
from shipkey.orders.models import Customer, Purchase, PurchaseStatus
from shipkey.payments.models import EventStatus, WebhookEvent
from shipkey.portal.models import LoginPurpose, LoginToken
from shipkey.releases.models import Artifact, Release
from shipkey.risk.models import RiskEvent, RiskKind, RiskStatus
from shipkey.web.models import WebSignIn

__all__ = [
    "AccessGrant",
    "AccessKind",
    "AdminToken",
    "Artifact",
    "AuditEntry",
    "AuditHead",
    "Base",
    "Customer",
    "DashboardDay",
    "DeliveryStatus",
    "Download",
    "EventStatus",
    "Job",
    "JobStatus",
    "License",
    "LicenseActivation",
    "LicenseSighting",
    "LicenseStatus",
    "LicenseType",
    "LoginPurpose",
    "LoginToken",
    "MailMessage",
    "MailStatus",
    "OutboundEvent",
    "PoolKey",
    "PoolWait",
    "Product",
    "ProductType",
    "Purchase",
    "PurchaseStatus",
    "RiskEvent",
    "RiskKind",
    "RiskStatus",
    "Release",
    "WebSignIn",
    "WebhookDelivery",
    "WebhookEndpoint",
    "WebhookEvent",
]
