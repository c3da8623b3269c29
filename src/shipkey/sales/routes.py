"""Admin API: purchases (manual sales, imports, other payment providers) and refunds."""

from __future__ import annotations

from fastapi import APIRouter, Depends
from sqlalchemy.orm import Session

from shipkey.admin.auth import require_admin
from shipkey.downloads import links as downloads
from shipkey.http.deps import DbSession, ReadSession, SettingsDep
from shipkey.mail.schemas import DeliveryRead
from shipkey.orders import service
from shipkey.orders.models import Purchase
from shipkey.orders.schemas import PurchaseCreate
from shipkey.sales import delivery, flows
from shipkey.sales.queries import purchase_detail
from shipkey.sales.schemas import LinkRead, PurchaseCreated, PurchaseRead

router = APIRouter(
    prefix="/api/admin/purchases", tags=["admin: purchases"], dependencies=[Depends(require_admin)]
)


def _read(session: Session, purchase: Purchase) -> PurchaseRead:
    return PurchaseRead.of(purchase_detail(session, purchase))


@router.post("", status_code=201)
def create_purchase(
    data: PurchaseCreate, session: DbSession, settings: SettingsDep
) -> PurchaseCreated:
    purchase, delivered = flows.create_purchase(session, settings, data)
    read = _read(session, purchase)
    links = [
        LinkRead(token=link.token, download_url=link.url, expires_at=link.expires_at)
        for link in (delivered.links if delivered else [])
    ]
    return PurchaseCreated(**read.model_dump(), download_links=links)


@router.get("/{purchase_id}")
def get_purchase(purchase_id: str, session: ReadSession) -> PurchaseRead:
    return _read(session, service.get_purchase(session, purchase_id))


@router.post("/{purchase_id}/refund")
def refund_purchase(purchase_id: str, session: DbSession, settings: SettingsDep) -> PurchaseRead:
    purchase = flows.refund(session, settings, service.get_purchase(session, purchase_id))
    return _read(session, purchase)


@router.post("/{purchase_id}/resend", status_code=202)
def resend_delivery(purchase_id: str, session: DbSession, settings: SettingsDep) -> DeliveryRead:
    """Send the delivery e-mail again (with a fresh download link when downloads are left);
    409 unless the purchase is COMPLETED and delivered."""
    purchase = service.get_purchase(session, purchase_id)
    return DeliveryRead.model_validate(delivery.resend(session, settings, purchase))


@router.post(
    "/{purchase_id}/download-links",
    status_code=201,
    responses={
        403: {"description": "A risk event holds the purchase (`UNDER_REVIEW`)."},
        409: {"description": "No link can be had (not completed, no file, no download left)."},
    },
)
def create_download_link(purchase_id: str, session: DbSession, settings: SettingsDep) -> LinkRead:
    purchase = service.get_purchase(session, purchase_id)
    link = downloads.issue_link(session, purchase, settings.base_url)
    return LinkRead(token=link.token, download_url=link.url, expires_at=link.expires_at)
