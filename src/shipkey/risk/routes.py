"""The seller's risk API: open and cleared events, clearing one, and a purchase's evidence."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query

from shipkey.admin.auth import ADMIN_ERRORS, require_admin
from shipkey.http.deps import DbSession, PageParams, ReadSession
from shipkey.http.openapi import errors
from shipkey.orders import service as orders
from shipkey.risk import evidence, service
from shipkey.risk.models import RiskKind, RiskStatus
from shipkey.risk.schemas import EvidenceRead, RiskEventRead
from shipkey.schemas import PageOf

_BAD_CURSOR = errors((400, "A cursor this list did not give out (`INVALID_CURSOR`)."))

router = APIRouter(
    prefix="/api/admin",
    tags=["admin: risk"],
    dependencies=[Depends(require_admin)],
    responses=ADMIN_ERRORS,
)


@router.get("/risk-events", responses=_BAD_CURSOR)
def list_risk_events(
    session: ReadSession,
    paging: PageParams,
    status: Annotated[RiskStatus | None, Query(description="OPEN or CLEARED.")] = None,
    kind: Annotated[RiskKind | None, Query(description="Only this rule's events.")] = None,
) -> PageOf[RiskEventRead]:
    """Risk events, newest first (cursor-paged)."""
    found = service.list_events(
        session, status=status, kind=kind, limit=paging.limit, cursor=paging.cursor
    )
    return PageOf[RiskEventRead](
        items=[service.to_read(session, event) for event in found.items],
        next_cursor=found.next_cursor,
    )


@router.post(
    "/risk-events/{event_id}/clear",
    responses=errors((404, "No such event (`RISK_EVENT_NOT_FOUND`).")),
)
def clear_risk_event(event_id: str, session: DbSession) -> RiskEventRead:
    """OPEN → CLEARED: what the event suspended is reinstated (clearing twice changes nothing)."""
    event = service.clear(session, service.get_event(session, event_id))
    return service.to_read(session, event)


@router.get(
    "/purchases/{purchase_id}/evidence",
    responses=errors((404, "No such purchase (`PURCHASE_NOT_FOUND`).")),
)
def purchase_evidence(purchase_id: str, session: ReadSession) -> EvidenceRead:
    """What shows the buyer received and used the purchase: for a dispute."""
    return evidence.purchase_evidence(session, orders.get_purchase(session, purchase_id))
