"""Every POST from a page carries the session's CSRF token in a hidden field (or the
``X-CSRF-Token`` header for the upload script); anything else is refused with 403 before the
handler runs."""

from __future__ import annotations

import hmac

from fastapi import Depends, Request

from shipkey.web.errors import PageError
from shipkey.web.render import tr
from shipkey.web.session import CSRF_FIELD, cookie_session

CSRF_HEADER = "x-csrf-token"


async def check_csrf(request: Request) -> None:
    """Refuse (403) a POST whose CSRF token is missing or not the session's."""
    if request.method != "POST" and request.method != "PUT":
        return
    session = cookie_session(request)
    sent = request.headers.get(CSRF_HEADER)
    if sent is None and request.headers.get("content-type", "").startswith(
        ("application/x-www-form-urlencoded", "multipart/form-data")
    ):
        form = await request.form()
        value = form.get(CSRF_FIELD)
        sent = value if isinstance(value, str) else None
    if not sent or not hmac.compare_digest(sent.encode(), session.csrf.encode()):
        raise PageError(
            403,
            tr(request, "This form has expired"),
            tr(
                request,
                "The form was sent without a valid security token. "
                "Go back, reload the page and try again.",
            ),
        )


CsrfChecked = Depends(check_csrf)
