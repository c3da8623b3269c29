"""Errors answered as HTML pages."""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.staticfiles import StaticFiles
from starlette.responses import Response

from shipkey.web.render import STATIC_DIR, redirect, render


class PageError(Exception):
    """An error answered with an HTML page (status, a title and a sentence for people)."""

    def __init__(self, status_code: int, title: str, message: str) -> None:
        super().__init__(message)
        self.status_code = status_code
        self.title = title
        self.message = message


class NeedsSignIn(Exception):
    """The page needs a signed-in buyer (or seller): redirect to the sign-in page."""

    def __init__(self, login_path: str, next_path: str) -> None:
        super().__init__(next_path)
        self.login_path = login_path
        self.next_path = next_path


def install(app: FastAPI) -> None:
    """The static files and the HTML error pages of both the portal and the admin."""
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")

    @app.exception_handler(PageError)
    async def _page_error(request: Request, exc: PageError) -> Response:
        return render(
            request,
            "error.html",
            {"title": exc.title, "message": exc.message},
            status_code=exc.status_code,
        )

    @app.exception_handler(NeedsSignIn)
    async def _needs_sign_in(request: Request, exc: NeedsSignIn) -> Response:
        from urllib.parse import urlencode

        return redirect(request, f"{exc.login_path}?{urlencode({'next': exc.next_path})}")
