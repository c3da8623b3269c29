"""Naming who acts in an admin request, and noting what the request does, in one place for the
admin API (its guard, :func:`shipkey.admin.auth.require_admin`) and the admin pages (theirs,
:func:`shipkey.admin_ui.pages.current_admin`).

:func:`admin_scope` runs before the guard: it makes the request's state the actor source of
every write session the request opens (see :mod:`shipkey.actor`) and, for a request that
changes something (POST, PUT, PATCH, DELETE), notes the action: ``api.<route name>`` or
``page.<route name>``, the path's ids as the target, and the JSON or form fields sent (secrets
left out) as the details. The guard names the actor once it knows who it is; the audit log
writes the note into the request's transaction as it commits. A request that fails rolls back
and leaves no entry. A request that committed no transaction of its own (a stateless signed
link) gets its entry in one short transaction after the handler.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

from fastapi import Request
from starlette.concurrency import run_in_threadpool

from shipkey.actor import ActorSource, Note, acting

WRITES = frozenset({"POST", "PUT", "PATCH", "DELETE"})
BODY_LIMIT = 64 * 1024
"""Bodies read for an entry's details at most (larger ones, and files, are not copied)."""


def action_name(request: Request) -> str:
    route = request.scope.get("route")
    name = getattr(route, "name", None) or request.url.path
    channel = "api" if request.url.path.startswith("/api/") else "page"
    return f"{channel}.{name}"


def target_of(request: Request) -> str | None:
    values = [str(value) for value in request.path_params.values()]
    return "/".join(values)[:255] if values else None


async def _details(request: Request) -> dict[str, Any]:
    details: dict[str, Any] = {}
    if request.query_params:
        details["query"] = dict(request.query_params)
    kind = request.headers.get("content-type", "").split(";")[0].strip().lower()
    length = request.headers.get("content-length", "")
    small = length.isascii() and length.isdigit() and 0 < int(length) <= BODY_LIMIT
    if not small:
        return details
    if kind == "application/json":
        try:
            body = await request.json()
        except ValueError:
            return details
        if isinstance(body, dict):
            details.update(body)
        elif body is not None:
            details["body"] = body
    elif kind == "application/x-www-form-urlencoded":
        form = await request.form()
        details.update({key: value for key, value in form.items() if isinstance(value, str)})
    return details


async def admin_scope(request: Request) -> AsyncIterator[ActorSource]:
    """See the module's docstring."""
    source = ActorSource(request.state)
    with acting(source):
        if request.method in WRITES:
            source.note(Note(action_name(request), target_of(request), await _details(request)))
        yield source
        if source.actor is not None and getattr(request.state, "audit_notes", None):
            await run_in_threadpool(_commit_notes, request)


async def sign_in_scope(request: Request) -> AsyncIterator[ActorSource]:
    """For the seller's sign-in: who signs in is only known (or not) inside the handler, which
    notes the sign-in or its failure itself."""
    source = ActorSource(request.state)
    with acting(source):
        yield source


def _commit_notes(request: Request) -> None:
    db = request.app.state.db
    with db.session() as session:
        session.connection()  # a transaction, so that committing it writes the notes
