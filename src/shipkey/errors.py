"""One exception family for every failure a client can cause, and the handlers that turn any
error into ``{"error": "<for a person>", "code": "<MACHINE_CODE>"}`` with the fitting status.

Services raise these; routes never build error responses themselves.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Coroutine
from typing import TYPE_CHECKING, Any

from sqlalchemy.exc import DataError, OperationalError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

if TYPE_CHECKING:
    # FastAPI is loaded by the app, not by what only raises these (the command line).
    from fastapi.exceptions import RequestValidationError

log = logging.getLogger(__name__)

DATABASE_RETRY_AFTER = 5
"""Seconds a client is asked to wait when the database is not available (503)."""


class ShipkeyError(Exception):
    """Base of all expected errors. ``extra`` fields are added to the JSON answer."""

    status_code = 400
    default_code = "BAD_REQUEST"

    def __init__(
        self,
        message: str,
        code: str | None = None,
        *,
        status_code: int | None = None,
        headers: dict[str, str] | None = None,
        **extra: Any,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.code = code or self.default_code
        if status_code is not None:
            self.status_code = status_code
        self.headers = headers
        self.extra = extra

    def body(self) -> dict[str, Any]:
        return {"error": self.message, "code": self.code, **self.extra}


class BadRequest(ShipkeyError):
    status_code = 400
    default_code = "BAD_REQUEST"


class Unauthorized(ShipkeyError):
    status_code = 401
    default_code = "UNAUTHORIZED"


class Forbidden(ShipkeyError):
    status_code = 403
    default_code = "FORBIDDEN"


class NotFound(ShipkeyError):
    status_code = 404
    default_code = "NOT_FOUND"


class Conflict(ShipkeyError):
    status_code = 409
    default_code = "CONFLICT"


class Gone(ShipkeyError):
    status_code = 410
    default_code = "GONE"


class PayloadTooLarge(ShipkeyError):
    status_code = 413
    default_code = "PAYLOAD_TOO_LARGE"


class RangeNotSatisfiableError(ShipkeyError):
    status_code = 416
    default_code = "RANGE_NOT_SATISFIABLE"


class InsufficientStorage(ShipkeyError):
    """The disk is full: nothing of the request was kept, and it can be sent again later."""

    status_code = 507
    default_code = "INSUFFICIENT_STORAGE"


class TooManyRequests(ShipkeyError):
    status_code = 429
    default_code = "RATE_LIMITED"


_HTTP_CODES = {
    400: "BAD_REQUEST",
    401: "UNAUTHORIZED",
    403: "FORBIDDEN",
    404: "NOT_FOUND",
    405: "METHOD_NOT_ALLOWED",
    406: "NOT_ACCEPTABLE",
    413: "PAYLOAD_TOO_LARGE",
    415: "UNSUPPORTED_MEDIA_TYPE",
    429: "RATE_LIMITED",
}

ExceptionHandlers = dict[
    int | type[Exception], Callable[[Request, Any], Coroutine[Any, Any, Response]]
]
"""Exception class or HTTP status code → handler, as ``FastAPI(exception_handlers=…)`` takes."""


def error_response(
    message: str, code: str, status_code: int, headers: dict[str, str] | None = None, **extra: Any
) -> JSONResponse:
    return JSONResponse(
        {"error": message, "code": code, **extra}, status_code=status_code, headers=headers
    )


def _describe_validation(exc: RequestValidationError) -> tuple[str, list[dict[str, Any]]]:
    details = []
    for err in exc.errors():
        loc = [str(part) for part in err.get("loc", ()) if part not in ("body", "query", "path")]
        details.append({"field": ".".join(loc) or None, "message": str(err.get("msg", ""))})
    first = details[0] if details else {"field": None, "message": "invalid request"}
    field = f"{first['field']}: " if first["field"] else ""
    return f"Invalid request: {field}{first['message']}", details


async def _shipkey_error(_request: Request, exc: ShipkeyError) -> JSONResponse:
    return JSONResponse(exc.body(), status_code=exc.status_code, headers=exc.headers)


async def _validation_error(_request: Request, exc: RequestValidationError) -> JSONResponse:
    if any(err.get("type") == "json_invalid" for err in exc.errors()):
        return error_response("The request body is not valid JSON.", "INVALID_JSON", 400)
    message, details = _describe_validation(exc)
    return error_response(message, "VALIDATION_ERROR", 422, details=details)


async def _http_error(_request: Request, exc: StarletteHTTPException) -> JSONResponse:
    code = _HTTP_CODES.get(exc.status_code, "HTTP_ERROR")
    message = exc.detail if isinstance(exc.detail, str) else code.replace("_", " ").lower()
    headers = dict(exc.headers) if exc.headers else None
    return error_response(message, code, exc.status_code, headers=headers)


async def _unstorable(_request: Request, exc: DataError) -> JSONResponse:
    # Input no check above caught and the database refuses, such as a NUL character in a
    # path or form field on PostgreSQL. The transaction was rolled back.
    log.info("refused input the database cannot store: %s", exc.orig)
    return error_response(
        "A value in the request cannot be stored (a NUL character, or a number out of range).",
        "INVALID_INPUT",
        400,
    )


async def _database_away(_request: Request, exc: OperationalError) -> JSONResponse:
    # The server is down or unreachable, or SQLite's lock was not free within its timeout:
    # nothing was changed (the transaction, if any, was rolled back); the caller can retry.
    log.warning("the database is not available: %s", exc.orig)
    return error_response(
        "The database is not available; try again in a few seconds.",
        "DATABASE_UNAVAILABLE",
        503,
        headers={"Retry-After": str(DATABASE_RETRY_AFTER)},
    )


async def _unexpected(_request: Request, exc: Exception) -> JSONResponse:
    log.exception("unhandled error", exc_info=exc)
    return error_response("Internal server error.", "INTERNAL_ERROR", 500)


def exception_handlers() -> ExceptionHandlers:
    """How the API answers each kind of error (``FastAPI(exception_handlers=…)``; the fast lane
    is given the same mapping)."""
    from fastapi.exceptions import RequestValidationError

    return {
        ShipkeyError: _shipkey_error,
        RequestValidationError: _validation_error,
        StarletteHTTPException: _http_error,
        DataError: _unstorable,
        OperationalError: _database_away,
        Exception: _unexpected,
    }
