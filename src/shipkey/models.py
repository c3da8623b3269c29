"""Every model, imported once so that the metadata (and Alembic) sees all tables."""

from shipkey.admin.models import AdminToken
from shipkey.catalog.models import LicenseType, Product, ProductType
from shipkey.db import Base
from shipkey.downloads.models import Download
from shipkey.jobs.models import Job, JobStatus
from shipkey.licensing.models import License, LicenseActivation, LicenseStatus
from shipkey.mail.models import MailMessage, MailStatus
from shipkey.orders.models import Customer, Purchase, PurchaseStatus
from shipkey.portal.models import LoginPurpose, LoginToken

__all__ = [
    "AdminToken",
    "Base",
    "Customer",
    "Download",
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
    "Product",
    "ProductType",
    "Purchase",
    "PurchaseStatus",
]
