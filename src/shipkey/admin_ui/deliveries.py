"""The outbox page: the e-mails sent, waiting or failed (with their error), and sending a failed
one again. A refused retry (already sent) goes back with the reason as a notice."""

from __future__ import annotations

from typing import Annotated

from fastapi import Query, Request
from starlette.responses import Response

from shipkey.admin_ui.pages import Admin, Posted, admin_router
from shipkey.http.deps import DbSession, ReadSession
from shipkey.mail import service as mail
from shipkey.mail.models import MailStatus
from shipkey.web.errors import notice_on_error
from shipkey.web.render import redirect, render, tr
from shipkey.web.session import WebSessionDep

router = admin_router()


@router.get("/deliveries", dependencies=Admin)
def deliveries(
    request: Request, session: ReadSession, status: Annotated[str, Query(max_length=10)] = ""
) -> Response:
    wanted = MailStatus(status) if status in MailStatus.__members__ else None
    return render(
        request,
        "admin/deliveries.html",
        {"messages": mail.list_messages(session, wanted, 200), "status": status},
    )


@router.post("/deliveries/{message_id}/retry", dependencies=[*Admin, *Posted])
def retry_delivery(
    request: Request, message_id: str, session: DbSession, web_session: WebSessionDep
) -> Response:
    with notice_on_error(request, "/admin/deliveries"):
        mail.retry(session, message_id)
    web_session.notify(tr(request, "The e-mail will be sent again."))
    return redirect(request, "/admin/deliveries")
