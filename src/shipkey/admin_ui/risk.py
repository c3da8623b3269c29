"""The risk pages: open (or cleared) risk events with the evidence behind each and a button to
clear one, and a purchase's evidence as a page to print for a dispute."""

from __future__ import annotations

from typing import Annotated

from fastapi import Query, Request
from starlette.responses import Response

from shipkey.admin_ui.pages import Admin, Posted, admin_router
from shipkey.http.deps import DbSession, ReadSession
from shipkey.orders import service as orders
from shipkey.risk import evidence, service
from shipkey.risk.models import RiskStatus
from shipkey.web.render import redirect, render, tr
from shipkey.web.session import WebSessionDep

router = admin_router()


@router.get("/risk", dependencies=Admin)
def risk_events(
    request: Request,
    session: ReadSession,
    status: Annotated[RiskStatus, Query()] = RiskStatus.OPEN,
    cursor: Annotated[str | None, Query(max_length=200, pattern=r"^[A-Za-z0-9_-]+$")] = None,
) -> Response:
    found = service.list_events(session, status=status, limit=50, cursor=cursor)
    return render(
        request,
        "admin/risk.html",
        {
            "events": [service.to_read(session, event) for event in found.items],
            "next_cursor": found.next_cursor,
            "status": status.value,
        },
    )


@router.post("/risk/{event_id}/clear", dependencies=[*Admin, *Posted])
def clear_event(
    request: Request, event_id: str, session: DbSession, web_session: WebSessionDep
) -> Response:
    service.clear(session, service.get_event(session, event_id))
    web_session.notify(tr(request, "Cleared: what the event suspended is reinstated."))
    return redirect(request, "/admin/risk")


@router.get("/purchases/{purchase_id}/evidence", dependencies=Admin)
def evidence_page(request: Request, purchase_id: str, session: ReadSession) -> Response:
    purchase = orders.get_purchase(session, purchase_id)
    return render(
        request,
        "admin/evidence.html",
        {"purchase": purchase, "evidence": evidence.purchase_evidence(session, purchase)},
    )
