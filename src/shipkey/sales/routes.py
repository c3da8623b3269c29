"""Admin API: purchases (manual sales, imports, other payment providers) and refunds."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Body, Depends, Query
from pydantic import BeforeValidator
from sqlalchemy.orm import Session

from shipkey.admin.auth import ADMIN_ERRORS, require_admin
from shipkey.downloads import links as downloads
from shipkey.http.deps import DbSession, PageParams, ReadSession, SettingsDep
from shipkey.http.openapi import errors
from shipkey.licensing import pools
from shipkey.mail.schemas import DeliveryRead
from shipkey.orders import service
from shipkey.orders.models import Purchase, PurchaseStatus
from shipkey.orders.schemas import PurchaseCreate
from shipkey.sales import delivery, flows, key_pools, queries
from shipkey.sales.queries import PurchaseFilter, purchase_detail
from shipkey.sales.schemas import CustomerRead, LinkRead, PurchaseCreated, PurchaseRead
from shipkey.schemas import ApiModel, PageOf

_LIST_ERRORS = errors((400, "A cursor this list did not give out (`INVALID_CURSOR`)."))

router = APIRouter(
    prefix="/api/admin/purchases",
    tags=["admin: purchases"],
    dependencies=[Depends(require_admin)],
    responses=ADMIN_ERRORS,
)
NOT_FOUND = (404, "No such purchase (`PURCHASE_NOT_FOUND`).")
customers_router = APIRouter(
    prefix="/api/admin/customers",
    tags=["admin: customers"],
    dependencies=[Depends(require_admin)],
    responses=ADMIN_ERRORS,
)

_ISO_8601 = re.compile(
    r"[0-9]{4}-[0-9]{2}-[0-9]{2}"
    r"([Tt ][0-9]{2}:[0-9]{2}(:[0-9]{2}(\.[0-9]{1,9})?)?([Zz]|[+-][0-9]{2}:?[0-9]{2})?)?"
)


def _iso_8601(value: Any) -> Any:
    """Only an ISO 8601 date or time of day is a moment here (not a number of seconds)."""
    if isinstance(value, str) and _ISO_8601.fullmatch(value) is None:
        raise ValueError("an ISO 8601 date-time, such as 2026-01-31T12:00:00Z")
    return value


Moment = Annotated[datetime, BeforeValidator(_iso_8601)]
"""A ``date-time`` query parameter that reads only ISO 8601 (UTC if no offset)."""

EmailFilter = Annotated[
    str | None,
    Query(min_length=1, max_length=320, description="Only this buyer's e-mail address (any case)."),
]


def _utc(moment: datetime | None) -> datetime | None:
    """A time without an offset is read as UTC."""
    if moment is None or moment.tzinfo is not None:
        return moment
    return moment.replace(tzinfo=UTC)


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


@router.get("", responses=_LIST_ERRORS)
def list_purchases(
    session: ReadSession,
    paging: PageParams,
    email: EmailFilter = None,
    status: Annotated[PurchaseStatus | None, Query(description="Only this status.")] = None,
    product: Annotated[
        str | None, Query(min_length=1, max_length=64, description="A product's id or slug.")
    ] = None,
    created_after: Annotated[
        Moment | None,
        Query(alias="createdAfter", description="ISO 8601; made at or after (UTC if no offset)."),
    ] = None,
    created_before: Annotated[
        Moment | None,
        Query(alias="createdBefore", description="ISO 8601; made before (UTC if no offset)."),
    ] = None,
) -> PageOf[PurchaseRead]:
    """Purchases, newest first, each as ``GET /api/admin/purchases/{id}`` shows it."""
    filters = PurchaseFilter(email, status, product, _utc(created_after), _utc(created_before))
    found = queries.list_purchases(session, filters, limit=paging.limit, cursor=paging.cursor)
    return PageOf[PurchaseRead](
        items=[PurchaseRead.of(detail) for detail in found.items], next_cursor=found.next_cursor
    )


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


@customers_router.get("", responses=_LIST_ERRORS)
def list_customers(
    session: ReadSession, paging: PageParams, email: EmailFilter = None
) -> PageOf[CustomerRead]:
    """Buyers, newest first, each with their purchases."""
    found = queries.list_customers(session, email, limit=paging.limit, cursor=paging.cursor)
    return PageOf[CustomerRead](
        items=[CustomerRead.of(detail) for detail in found.items], next_cursor=found.next_cursor
    )


@customers_router.get(
    "/{customer_id}", responses=errors((404, "No such buyer (`CUSTOMER_NOT_FOUND`)."))
)
def get_customer(customer_id: str, session: ReadSession) -> CustomerRead:
    return CustomerRead.of(queries.customer_detail(session, customer_id))


key_pool_router = APIRouter(
    prefix="/api/admin/products",
    tags=["admin: key pools"],
    dependencies=[Depends(require_admin)],
    responses={
        **ADMIN_ERRORS,
        **errors(
            (404, "No such product (`PRODUCT_NOT_FOUND`)."),
            (409, "The product is not sold with a license (`NO_LICENSE`)."),
        ),
    },
)


class KeyPoolRead(ApiModel):
    available: int


class KeyPoolAdded(KeyPoolRead):
    added: int
    duplicates: int


@key_pool_router.post("/{ref}/key-pool")
def add_pool_keys(
    ref: str,
    session: DbSession,
    settings: SettingsDep,
    keys: Annotated[
        str,
        Body(
            media_type="text/plain",
            max_length=8_000_000,
            description="License keys, one a line, handed out in this order (an empty body "
            "adds none).",
        ),
    ] = "",
) -> KeyPoolAdded:
    """Add keys to the product's pool: sales then get these keys instead of generated ones,
    and sales that waited for a key get theirs by e-mail. A key already known is a duplicate."""
    added = key_pools.add_keys(session, settings, ref, keys.splitlines())
    return KeyPoolAdded(added=added.added, duplicates=added.duplicates, available=added.available)


@key_pool_router.get("/{ref}/key-pool")
def get_pool(ref: str, session: ReadSession) -> KeyPoolRead:
    """How many keys of the product's pool are free."""
    product = key_pools.licensed_product(session, ref)
    return KeyPoolRead(available=pools.available(session, product.id))
