"""A buyer's data: the seller's export and erasure (admin API), and the buyer's own export
(``/account/export`` in the portal)."""

from __future__ import annotations

from fastapi import APIRouter, Depends
from starlette.responses import Response

from shipkey.admin.auth import ADMIN_ERRORS, require_admin
from shipkey.errors import NotFound
from shipkey.http.deps import DbSession, ReadSession
from shipkey.http.openapi import errors
from shipkey.portal.routes import BuyerDep
from shipkey.privacy import service
from shipkey.privacy.schemas import CustomerExport, ErasureRead
from shipkey.web.errors import PAGE_ERRORS

router = APIRouter(
    prefix="/api/admin/customers",
    tags=["admin: customers"],
    dependencies=[Depends(require_admin)],
    responses=ADMIN_ERRORS,
)
portal_router = APIRouter(
    tags=["pages: buyer"], include_in_schema=False, dependencies=[PAGE_ERRORS]
)

_ADMIN_ERRORS = errors(
    (400, "A value the database cannot store (`INVALID_INPUT`)."),
    (404, "No such customer (`CUSTOMER_NOT_FOUND`)."),
)


@router.get("/{customer_id}/export", responses=_ADMIN_ERRORS)
def export_customer(customer_id: str, session: ReadSession) -> CustomerExport:
    """Everything kept about the buyer: their record, purchases (with downloads, licenses,
    consent), licenses with their machines, e-mails, sign-in links and sessions."""
    return service.export(session, service.get_customer(session, customer_id))


@router.post("/{customer_id}/erase", responses=_ADMIN_ERRORS)
def erase_customer(customer_id: str, session: DbSession) -> ErasureRead:
    """Erase the buyer's personal data; amounts, dates and order ids stay. Repeatable."""
    return service.erase(session, service.get_customer(session, customer_id))


@portal_router.get("/account/export")
def my_data(email: BuyerDep, session: ReadSession) -> Response:
    """The signed-in buyer's own export, as a JSON file."""
    customer = service.find_by_email(session, email)
    if customer is None:
        raise NotFound("Nothing is kept about this address.", "CUSTOMER_NOT_FOUND")
    document = service.export(session, customer)
    return Response(
        document.model_dump_json(by_alias=True, indent=2),
        media_type="application/json",
        headers={
            "Content-Disposition": 'attachment; filename="shipkey-my-data.json"',
            "Cache-Control": "no-store",
            "X-Content-Type-Options": "nosniff",
        },
    )
