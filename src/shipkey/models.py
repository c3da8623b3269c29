"""Every model, imported once so that the metadata (and Alembic) sees all tables."""

from shipkey.admin.models import AdminToken
from shipkey.catalog.models import LicenseType, Product, ProductType
from shipkey.db import Base
from shipkey.downloads.models import Download
from shipkey.orders.models import Customer, Purchase, PurchaseStatus

__all__ = [
    "AdminToken",
    "Base",
    "Customer",
    "Download",
    "LicenseType",
    "Product",
    "ProductType",
    "Purchase",
    "PurchaseStatus",
]
