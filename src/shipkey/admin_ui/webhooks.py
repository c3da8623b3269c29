"""The webhook page: the newest events received from the payment provider."""

from __future__ import annotations

from fastapi import Request
from starlette.responses import Response

from shipkey.admin_ui import service
from shipkey.admin_ui.pages import Admin, CursorParam, admin_router, pager
from shipkey.http.deps import ReadSession
from shipkey.web.render import render

router = admin_router()


@router.get("/webhooks", dependencies=Admin)
def webhooks(request: Request, session: ReadSession, cursor: CursorParam = "") -> Response:
    found = service.webhook_events(session, cursor or None)
    return render(
        request,
        "admin/webhooks.html",
        {"events": found.items, "pager": pager("/admin/webhooks", found, cursor)},
    )
