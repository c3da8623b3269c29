"""The audit log page: every admin change and failed sign-in, searched by actor, action or
target, newest first, a page at a time."""

from __future__ import annotations

import json
from typing import Annotated
from urllib.parse import urlencode

from fastapi import Query, Request
from starlette.responses import Response

from shipkey.admin_ui.pages import Admin, admin_router
from shipkey.audit import service as audit
from shipkey.http.deps import ReadSession
from shipkey.web.render import render

router = admin_router()
PAGE_SIZE = 50


@router.get("/audit-log", dependencies=Admin)
def audit_log(
    request: Request,
    session: ReadSession,
    actor: Annotated[str, Query(max_length=320)] = "",
    action: Annotated[str, Query(max_length=100)] = "",
    target: Annotated[str, Query(max_length=255)] = "",
    cursor: Annotated[str, Query(max_length=64)] = "",
) -> Response:
    rows, next_cursor = audit.list_entries(
        session,
        actor=actor.strip() or None,
        action=action.strip() or None,
        target=target.strip() or None,
        limit=PAGE_SIZE,
        cursor=cursor or None,
    )
    filters = {"actor": actor, "action": action, "target": target}
    older = None
    if next_cursor:
        older = "/admin/audit-log?" + urlencode({**filters, "cursor": next_cursor})
    return render(
        request,
        "admin/audit_log.html",
        {
            "entries": [
                (row, json.dumps(row.details, ensure_ascii=False, sort_keys=True)) for row in rows
            ],
            "filters": filters,
            "older": older,
        },
    )
