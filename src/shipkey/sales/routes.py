"""Admin API: purchases (manual sales, imports, other payment providers) and refunds."""

from __future__ import annotations

from fastapi import APIRouter, Depends
from sqlalchemy.orm import Session

from shipkey.admin.auth import ADMIN_ERRORS, require_admin
from shipkey.downloads import links as downloads
from shipkey.http.deps import DbSession, ReadSession, SettingsDep
from shipkey.http.openapi import errors
from shipkey.mail.schemas import DeliveryRead
from shipkey.orders import service
from shipkey.orders.models import Purchase
from shipkey.orders.schemas import PurchaseCreate
from shipkey.sales import delivery, flows
from shipkey.sales.queries import purchase_detail
from shipkey.sales.schemas import LinkRead, PurchaseCreated, PurchaseRead

router = APIRouter(
    prefix="/api/admin/purchases",
    tags=["admin: purchases"],
    dependencies=[Depends(require_admin)],
    responses=ADMIN_ERRORS,
)
NOT_FOUND = (404, "No such purchase (`PURCHASE_NOT_FOUND`).")


def _read(session: Session, purchase: Purchase) -> PurchaseRead:
    return PurchaseRead.of(purchase_detail(session, purchase))


@router.post(
    "",
    status_code=201,
    responses=errors(
        (404, "No such product (`PRODUCT_NOT_FOUND`)."),
        (409, "The product cannot be delivered as it is (`NO_LICENSE`)."),
    ),
)
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


@router.get("/{purchase_id}", responses=errors(NOT_FOUND))
def get_purchase(purchase_id: str, session: ReadSession) -> PurchaseRead:
    return _read(session, service.get_purchase(session, purchase_id))


@router.post(
    "/{purchase_id}/refund",
    responses=errors(NOT_FOUND, (409, "Not refundable in its status (`INVALID_PURCHASE_STATE`).")),
)
def refund_purchase(purchase_id: str, session: DbSession, settings: SettingsDep) -> PurchaseRead:
    purchase = flows.refund(session, settings, service.get_purchase(session, purchase_id))
    return _read(session, purchase)


@router.post(
    "/{purchase_id}/resend",
    status_code=202,
    responses=errors(
        NOT_FOUND, (409, "Not delivered yet (`PURCHASE_NOT_COMPLETED`), or no e-mail (`NO_EMAIL`).")
    ),
)
def resend_delivery(purchase_id: str, session: DbSession, settings: SettingsDep) -> DeliveryRead:
    """Send the delivery e-mail again (with a fresh download link when downloads are left);
    409 unless the purchase is COMPLETED and delivered."""
    purchase = service.get_purchase(session, purchase_id)
    return DeliveryRead.model_validate(delivery.resend(session, settings, purchase))


@router.post(
    "/{purchase_id}/download-links",
    status_code=201,
    responses=errors(
        NOT_FOUND,
        (403, "A risk event holds the purchase (`UNDER_REVIEW`)."),
        (
            409,
            "`PURCHASE_NOT_COMPLETED`, `NO_FILE`, or `DOWNLOAD_LIMIT_REACHED` (with "
            "`maxDownloads` and `downloadCount`).",
        ),
    ),
)
def create_download_link(purchase_id: str, session: DbSession, settings: SettingsDep) -> LinkRead:
    purchase = service.get_purchase(session, purchase_id)
    link = downloads.issue_link(session, purchase, settings.base_url)
    return LinkRead(token=link.token, download_url=link.url, expires_at=link.expires_at)
