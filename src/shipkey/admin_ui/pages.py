"""What every seller page shares: the signed-in seller, the CSRF check on posts, and a router
under ``/admin`` whose domain errors are answered as pages (:mod:`shipkey.web.errors`)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Query, Request

from shipkey.actor import Actor, ActorSource
from shipkey.db.paging import Page
from shipkey.http.acting import admin_scope
from shipkey.http.deps import get_client_ip
from shipkey.web.csrf import CsrfChecked
from shipkey.web.errors import PAGE_ERRORS, NeedsSignIn
from shipkey.web.session import get_web_session

Posted = [CsrfChecked]


def current_admin(request: Request, scope: Annotated[ActorSource, Depends(admin_scope)]) -> str:
    """The signed-in seller's name, the actor of what the page changes (see
    :mod:`shipkey.http.acting`); otherwise off to the sign-in page."""
    admin = get_web_session(request).admin
    if admin is None:
        raise NeedsSignIn("/admin/login", request.url.path)
    scope.set_actor(Actor(admin, get_client_ip(request)))
    return admin


Admin = [Depends(current_admin)]

CursorParam = Annotated[str, Query(max_length=200, pattern=r"^[A-Za-z0-9_-]*$")]
"""Where a list page starts: the cursor its previous page's "Older" link carried."""


@dataclass(frozen=True)
class Pager:
    """A list page's links: to the older rows (when there are more) and back to the newest."""

    older: str | None
    newest: str | None


def pager(path: str, page: Page[Any], cursor: str, **params: str) -> Pager:
    """The links below a list at ``path`` showing ``page``, keeping the list's ``params``
    (a search, a filter)."""
    kept = {name: value for name, value in params.items() if value}

    def link(**extra: str) -> str:
        query = urlencode({**kept, **extra})
        return f"{path}?{query}" if query else path

    return Pager(
        older=link(cursor=page.next_cursor) if page.next_cursor else None,
        newest=link() if cursor else None,
    )


def admin_router(*, page_errors: bool = True) -> APIRouter:
    """A router for a group of seller pages; ``page_errors=False`` for a route that answers in
    JSON (the upload script's target), whose domain errors keep their JSON answers."""
    return APIRouter(
        prefix="/admin",
        tags=["pages: admin"],
        include_in_schema=False,
        dependencies=[PAGE_ERRORS] if page_errors else [],
    )
