"""The outbox page: the e-mails sent, waiting or failed (with their error), and sending a failed
one again. A refused retry (already sent) goes back with the reason as a notice."""

from __future__ import annotations

from typing import Annotated

from fastapi import Query, Request
from starlette.responses import Response

from shipkey.admin_ui import service
from shipkey.admin_ui.pages import Admin, CursorParam, Posted, admin_router, pager
from shipkey.http.deps import DbSession, ReadSession
from shipkey.mail import service as mail
from shipkey.mail.models import MailStatus
from shipkey.web.errors import notice_on_error
from shipkey.web.render import redirect, render, tr
from shipkey.web.session import WebSessionDep

router = admin_router()


@router.get("/deliveries", dependencies=Admin)
def deliveries(
    request: Request,
    session: ReadSession,
    status: Annotated[str, Query(max_length=10)] = "",
    cursor: CursorParam = "",
) -> Response:
    wanted = MailStatus(status) if status in MailStatus.__members__ else None
    found = service.deliveries(session, wanted, cursor or None)
    return render(
        request,
        "admin/deliveries.html",
        {
            "messages": found.items,
            "status": status,
            "pager": pager("/admin/deliveries", found, cursor, status=wanted or ""),
        },
    )


@router.post("/deliveries/{message_id}/retry", dependencies=[*Admin, *Posted])
def retry_delivery(
    request: Request, message_id: str, session: DbSession, web_session: WebSessionDep
) -> Response:
    with notice_on_error(request, "/admin/deliveries"):
        mail.retry(session, message_id)
    web_session.notify(tr(request, "The e-mail will be sent again."))
    return redirect(request, "/admin/deliveries")
