"""``GET /api/admin/audit-log``: the admin's changes, newest first, paged by cursor."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query

from shipkey.admin.auth import ADMIN_ERRORS, require_admin
from shipkey.audit import service
from shipkey.audit.schemas import AuditEntryRead
from shipkey.http.deps import PageParams, ReadSession
from shipkey.http.openapi import errors
from shipkey.schemas import PageOf

router = APIRouter(
    prefix="/api/admin/audit-log",
    tags=["admin: audit log"],
    dependencies=[Depends(require_admin)],
    responses=ADMIN_ERRORS,
)


@router.get(
    "",
    responses=errors(
        (400, "The cursor is not one this list gave (`INVALID_CURSOR`)."),
    ),
)
def list_audit_log(
    session: ReadSession,
    paged: PageParams,
    actor: Annotated[str | None, Query(max_length=320, description="Exact actor.")] = None,
    action: Annotated[str | None, Query(max_length=100, description="Exact action.")] = None,
    target: Annotated[str | None, Query(max_length=255, description="Exact target.")] = None,
) -> PageOf[AuditEntryRead]:
    """Every change an admin made (API, pages, command line) and every failed sign-in."""
    found = service.list_entries(
        session,
        actor=actor,
        action=action,
        target=target,
        limit=paged.limit,
        cursor=paged.cursor,
    )
    return PageOf[AuditEntryRead](
        items=[AuditEntryRead.model_validate(row) for row in found.items],
        next_cursor=found.next_cursor,
    )
