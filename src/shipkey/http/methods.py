"""405 with an ``Allow`` header that names every method the path answers.

Starlette answers a method a path does not take from the first route whose path matches, with
that route's methods alone: ``OPTIONS /api/licenses/activate`` said ``Allow: POST`` although the
path also answers ``DELETE`` (a route of its own). :func:`method_not_allowed`, the app's handler
for 405, asks the app's routes which methods match the path in full.
"""

from __future__ import annotations

from fastapi import Request
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException
from starlette.routing import Match, Mount

from shipkey.errors import error_response

METHODS = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS")
"""The methods a route of the app may answer."""


def allowed_methods(request: Request) -> list[str]:
    """The methods some route of the app answers at the request's path (a mounted app, such
    as the static files, decides for itself and is left out)."""
    routes = [route for route in request.app.router.routes if not isinstance(route, Mount)]
    allowed = []
    for method in METHODS:
        scope = {**request.scope, "method": method}
        if any(route.matches(scope)[0] is Match.FULL for route in routes):
            allowed.append(method)
    return allowed


async def method_not_allowed(request: Request, exc: Exception) -> JSONResponse:
    """405 ``METHOD_NOT_ALLOWED`` with ``Allow``: every method of the path."""
    allowed = allowed_methods(request)
    if not allowed and isinstance(exc, HTTPException) and exc.headers:
        allowed = [exc.headers.get("Allow", "")]
    headers = {"Allow": ", ".join(allowed)} if allowed else None
    return error_response("This method is not allowed here.", "METHOD_NOT_ALLOWED", 405, headers)
