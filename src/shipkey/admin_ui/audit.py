"""The audit log page: every admin change and failed sign-in, searched by actor, action or
target, newest first, a page at a time."""

from __future__ import annotations

import json
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import Query, Request
from starlette.responses import Response

from shipkey.admin_ui.pages import Admin, admin_router
from shipkey.audit import service as audit
from shipkey.http.deps import ReadSession
from shipkey.web.render import render

router = admin_router()
PAGE_SIZE = 50


def _details(details: dict[str, Any]) -> str:
    return json.dumps(details, ensure_ascii=False, sort_keys=True)


@router.get("/audit-log", dependencies=Admin)
def audit_log(
    request: Request,
    session: ReadSession,
    actor: Annotated[str, Query(max_length=320)] = "",
    action: Annotated[str, Query(max_length=100)] = "",
    target: Annotated[str, Query(max_length=255)] = "",
    cursor: Annotated[str, Query(max_length=200)] = "",
) -> Response:
    found = audit.list_entries(
        session,
        actor=actor.strip() or None,
        action=action.strip() or None,
        target=target.strip() or None,
        limit=PAGE_SIZE,
        cursor=cursor or None,
    )
    filters = {"actor": actor, "action": action, "target": target}
    older = None
    if found.next_cursor:
        older = "/admin/audit-log?" + urlencode({**filters, "cursor": found.next_cursor})
    return render(
        request,
        "admin/audit_log.html",
        {
            "entries": [
                (row, json.dumps(row.details, ensure_ascii=False, sort_keys=True))
                for row in found.items
            ],
            "filters": filters,
            "older": older,
        },
    )
