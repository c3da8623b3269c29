"""Every model, imported once so that the metadata (and Alembic) sees all tables."""

from shipkey.admin.models import AdminToken
from shipkey.catalog.models import LicenseType, Product, ProductType
from shipkey.db.types import Base
from shipkey.downloads.models import Download
from shipkey.fulfilment.models import AccessGrant, AccessKind
from shipkey.hooks.models import DeliveryStatus, OutboundEvent, WebhookDelivery, WebhookEndpoint
from shipkey.jobs.models import Job, JobStatus
from shipkey.licensing.models import License, LicenseActivation, LicenseStatus, PoolKey, PoolWait
from shipkey.mail.models import MailMessage, MailStatus
from shipkey.orders.models import Customer, Purchase, PurchaseStatus
from shipkey.payments.models import EventStatus, WebhookEvent
from shipkey.portal.models import LoginPurpose, LoginToken
from shipkey.web.models import WebSignIn

__all__ = [
    "AccessGrant",
    "AccessKind",
    "AdminToken",
    "Base",
    "Customer",
    "DeliveryStatus",
    "Download",
    "EventStatus",
    "Job",
    "JobStatus",
    "License",
    "LicenseActivation",
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
    "WebSignIn",
    "WebhookDelivery",
    "WebhookEndpoint",
    "WebhookEvent",
]
