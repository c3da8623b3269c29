"""The admin API's guard: ``Authorization: Bearer <token>``, 401 otherwise."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from shipkey.admin import service
from shipkey.clock import utcnow
from shipkey.errors import Unauthorized
from shipkey.http.deps import get_database, get_settings

_bearer = HTTPBearer(auto_error=False, description="An admin token (shipkey admin-token create).")


def require_admin(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> str:
    """The caller's token name; 401 ``UNAUTHORIZED`` without a valid admin token."""
    challenge = {"WWW-Authenticate": "Bearer"}
    if credentials is None or credentials.scheme.lower() != "bearer":
        raise Unauthorized("An admin token is required.", headers=challenge)
    raw = credentials.credentials
    settings = get_settings(request)
    configured = settings.admin_token.get_secret_value() if settings.admin_token else None
    if service.matches_static(raw, configured):
        return "SHIPKEY_ADMIN_TOKEN"
    db = get_database(request)
    with db.read_session() as session:
        token = service.find_token(session, raw)
        if token is None:
            raise Unauthorized("The admin token is not valid.", headers=challenge)
        stale = token.last_used_at is None or token.last_used_at < utcnow() - timedelta(minutes=1)
        name, token_id = token.name, token.id
    if stale:
        with db.session() as session:
            service.touch(session, token_id)
    return name or token_id


AdminDep = Annotated[str, Depends(require_admin)]
