"""Seller webhook events about purchases, with the purchase as the admin API shows it
(``GET /api/admin/purchases/{id}``), written in the transaction of the change."""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from shipkey.hooks import emit
from shipkey.orders.models import Purchase
from shipkey.sales.queries import purchase_detail
from shipkey.sales.schemas import PurchaseRead


def purchase_data(session: Session, purchase: Purchase) -> dict[str, Any]:
    read = PurchaseRead.of(purchase_detail(session, purchase))
    return read.model_dump(mode="json", by_alias=True)


def announce(session: Session, event_type: str, purchase: Purchase) -> None:
    """``event_type`` about ``purchase`` (as it is now) for the endpoints that want it."""
    emit(session, event_type, lambda: purchase_data(session, purchase))
