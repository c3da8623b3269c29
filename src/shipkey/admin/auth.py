"""The admin API's guard: ``Authorization: Bearer <token>``, 401 otherwise."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from shipkey.actor import Actor, ActorSource, Note, act_as
from shipkey.admin import service
from shipkey.clock import utcnow
from shipkey.db.engine import Database
from shipkey.errors import Unauthorized
from shipkey.http.acting import admin_scope
from shipkey.http.deps import get_client_ip, get_database, get_settings
from shipkey.http.openapi import errors

ADMIN_ERRORS = errors(
    (401, "No admin token, or one that is not valid (`UNAUTHORIZED`)."),
    503,
)
"""What every admin route can answer besides its own: ``APIRouter(responses=ADMIN_ERRORS)``."""

_bearer = HTTPBearer(auto_error=False, description="An admin token (shipkey admin-token create).")


UNKNOWN = "unknown"
"""The actor of a failed sign-in."""


def require_admin(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
    scope: Annotated[ActorSource, Depends(admin_scope)],
) -> str:
    """The caller's token name; 401 ``UNAUTHORIZED`` without a valid admin token. The token's
    name is the actor of what the request changes (:mod:`shipkey.http.acting`); a token that
    is not valid is recorded as a failed sign-in."""
    challenge = {"WWW-Authenticate": "Bearer"}
    if credentials is None or credentials.scheme.lower() != "bearer":
        raise Unauthorized("An admin token is required.", headers=challenge)
    name = token_name(request, credentials.credentials)
    if name is None:
        record_failed_sign_in(request, scope, "api")
        raise Unauthorized("The admin token is not valid.", headers=challenge)
    scope.set_actor(Actor(name, get_client_ip(request)))
    return name


def record_failed_sign_in(request: Request, scope: ActorSource, via: str) -> None:
    """A failed sign-in to the admin, in a transaction of its own (the request's fails)."""
    scope.take_notes()
    scope.set_actor(Actor(UNKNOWN, get_client_ip(request)))
    scope.note(Note("sign_in.failed", None, {"via": via, "path": request.url.path}))
    with get_database(request).session() as session:
        act_as(session, scope)
        session.connection()  # a transaction, so that committing it writes the note


def bearer_admin(request: Request) -> str | None:
    """The name of the admin token the request carries as ``Authorization: Bearer``, ``None``
    without one that is valid (for a route that has other ways in, such as ``/metrics``)."""
    scheme, _, raw = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not raw.strip():
        return None
    return token_name(request, raw.strip())


def token_name(request: Request, raw: str) -> str | None:
    """The name of the admin token ``raw`` (``SHIPKEY_ADMIN_TOKEN`` or a created one)."""
    settings = get_settings(request)
    configured = settings.admin_token.get_secret_value() if settings.admin_token else None
    if service.matches_static(raw, configured):
        return "SHIPKEY_ADMIN_TOKEN"
    return authenticate(get_database(request), raw)


def optional_admin(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> str | None:
    """The caller's token name when it sends one, ``None`` when it sends none; a token that
    is not valid is still 401 ``UNAUTHORIZED`` (a seller's site with a wrong token should hear
    so, not get the public answer)."""
    if credentials is None:
        return None
    return require_admin(request, credentials, ActorSource(request.state))


def authenticate(db: Database, raw: str) -> str | None:
    """The name (else the id) of the stored admin token ``raw``, recording its use; ``None``
    when there is no such token or it was revoked.

    This takes the database, not the route's session, because it runs before every admin route
    and must hold nothing while the route runs (an upload streams for minutes): the token is
    read in a short read-only unit of work, and its use recorded in another short one only when
    the last record is over a minute old, so that routes that only read never take the write
    lock.
    """
    with db.read_session() as session:
        token = service.find_token(session, raw)
        if token is None:
            return None
        last_used = token.last_used_at
        stale = last_used is None or last_used < utcnow() - service.LAST_USED_RESOLUTION
        name, token_id = token.name, token.id
    if stale:
        with db.session() as session:
            service.touch(session, token_id)
    return name or token_id


AdminDep = Annotated[str, Depends(require_admin)]
OptionalAdminDep = Annotated[str | None, Depends(optional_admin)]
