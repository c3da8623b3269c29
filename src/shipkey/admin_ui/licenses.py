"""The license pages: search by key or the buyer's address, one license with its machines, and
the buttons that suspend, reinstate, revoke it or free its seats. Only the changes the
license's state allows are shown; revoking, which cannot be undone, is asked for on a page of
its own. A refused change goes back with the reason as a notice."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated

from fastapi import Form, Query, Request
from sqlalchemy.orm import Session
from starlette.responses import Response

from shipkey.admin_ui import actions, service
from shipkey.admin_ui.pages import Admin, CursorParam, Posted, admin_router, pager
from shipkey.errors import NotFound
from shipkey.http.deps import DbSession, ReadSession
from shipkey.licensing import admin as license_admin
from shipkey.licensing import lookups as license_lookups
from shipkey.licensing import seats
from shipkey.licensing.models import License
from shipkey.risk import service as risk
from shipkey.web.errors import notice_on_error
from shipkey.web.render import redirect, render, tr
from shipkey.web.session import WebSessionDep, safe_next

router = admin_router()


@router.get("/licenses", dependencies=Admin)
def licenses(
    request: Request,
    session: ReadSession,
    q: Annotated[str, Query(max_length=320)] = "",
    cursor: CursorParam = "",
) -> Response:
    found = service.search_licenses(session, q, cursor or None)
    emails = service.customer_emails(session, [lic.customer_id for lic in found.items])
    return render(
        request,
        "admin/licenses.html",
        {
            "licenses": found.items,
            "emails": emails,
            "q": q,
            "pager": pager("/admin/licenses", found, cursor, q=q),
        },
    )


@router.get("/licenses/{license_id}", dependencies=Admin)
def license_page(request: Request, license_id: str, session: ReadSession) -> Response:
    lic = license_lookups.lookup(session, license_id)
    emails = service.customer_emails(session, [lic.customer_id])
    return render(
        request,
        "admin/license.html",
        {
            "lic": lic,
            "email": emails.get(lic.customer_id, ""),
            "activations": license_lookups.list_activations(session, lic.id),
            "actions": actions.license_actions(lic),
            "risk": risk.open_for(session, license_id=lic.id),
        },
    )


@router.get("/licenses/{license_id}/revoke", dependencies=Admin)
def confirm_revoke(request: Request, license_id: str, session: ReadSession) -> Response:
    """Revoking asked for again, with what it means; its form posts the revoke."""
    lic = license_lookups.lookup(session, license_id)
    with notice_on_error(request, f"/admin/licenses/{lic.id}"):
        license_admin.ensure_allowed(lic, "revoke")
    emails = service.customer_emails(session, [lic.customer_id])
    return render(
        request,
        "admin/confirm_revoke.html",
        {"lic": lic, "email": emails.get(lic.customer_id, "")},
    )


LICENSE_ACTIONS: dict[str, Callable[[Session, License], object]] = {
    "suspend": license_admin.suspend,
    "reinstate": license_admin.reinstate,
    "revoke": license_admin.revoke,
    "reset-activations": seats.reset_activations,
}


@router.post("/licenses/{license_id}/{action}", dependencies=[*Admin, *Posted])
def license_action(
    request: Request,
    license_id: str,
    action: str,
    session: DbSession,
    web_session: WebSessionDep,
    back: Annotated[str, Form()] = "",
) -> Response:
    handler = LICENSE_ACTIONS.get(action)
    if handler is None:
        raise NotFound(tr(request, "No such action."))
    lic = license_lookups.lookup(session, license_id)
    back_to = safe_next(back, f"/admin/licenses/{lic.id}")
    with notice_on_error(request, back_to):
        license_admin.ensure_allowed(lic, action)
        handler(session, lic)
    web_session.notify(
        tr(request, "License %(key)s: %(status)s", key=lic.key, status=lic.status.value)
    )
    return redirect(request, back_to)
