"""Errors answered as HTML pages, and the one mapping of domain errors to them.

A page handler lets a domain error (:class:`~shipkey.errors.ShipkeyError`) out as a service
raises it, and the page answers it in one of three ways:

- an error page (:func:`error_page`): the status the JSON API answers the same error with, a
  title for that status and the error's sentence; this is what :data:`PAGE_ERRORS`, the page
  routers' dependency, does with any domain error a handler lets through;
- a notice on the page the form came from (:func:`notice_on_error`), for a button that acts on
  something: the change is refused, the page shows why;
- the form again with the reason (:func:`form_on_error`).

A ``NotFound`` is always the error page: the thing the page is about is not there. The answer is
raised out of the handler (:class:`Answer`), so the request's transaction is rolled back first.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import contextmanager
from typing import Any
from urllib.parse import urlencode

from fastapi import Depends, FastAPI, Request
from fastapi.staticfiles import StaticFiles
from starlette.responses import Response

from shipkey.errors import NotFound, ShipkeyError
from shipkey.web.render import STATIC_DIR, redirect, render, tr
from shipkey.web.session import cookie_session


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


class Answer(Exception):
    """A page's answer to a refused request (a notice and a redirect, or the form again), built
    while the request's transaction was open and sent after it was rolled back."""

    def __init__(self, response: Response) -> None:
        super().__init__(response.status_code)
        self.response = response


def error_title(request: Request, status_code: int) -> str:
    """An error page's title for a status."""
    if status_code == 404:
        return tr(request, "Not found")
    if status_code == 429:
        return tr(request, "Too many requests")
    return tr(request, "Error")


def error_page(
    request: Request, exc: ShipkeyError, *, title: str | None = None, message: str | None = None
) -> PageError:
    """The error page for a domain error: the status the API answers it with
    (:func:`shipkey.errors.install_error_handlers`), a title for that status (or ``title``) and
    the error's sentence (or ``message``)."""
    return PageError(
        exc.status_code,
        title or error_title(request, exc.status_code),
        message or exc.message,
    )


def page_errors(not_found: Callable[[Request], str] | None = None) -> Any:
    """A page router's dependency: any domain error its handlers let through is answered with
    its error page; ``not_found`` gives the sentence for a ``NotFound`` instead of the error's
    own."""

    async def answer_with_pages(request: Request) -> AsyncIterator[None]:
        try:
            yield
        except ShipkeyError as exc:
            message = not_found(request) if not_found and isinstance(exc, NotFound) else None
            raise error_page(request, exc, message=message) from exc

    return Depends(answer_with_pages)


PAGE_ERRORS = page_errors()
"""Domain errors answered with their error pages (:func:`page_errors`)."""


@contextmanager
def notice_on_error(
    request: Request, url: str, notice: Callable[[str], str] | None = None
) -> Iterator[None]:
    """Within: a domain error (but ``NotFound``) refuses the change: back to ``url``, where its
    sentence (or ``notice(sentence)``) is shown as an error notice."""
    try:
        yield
    except NotFound:
        raise
    except ShipkeyError as exc:
        cookie_session(request).notify(notice(exc.message) if notice else exc.message, "error")
        raise Answer(redirect(request, url)) from exc


@contextmanager
def form_on_error(form: Callable[[ShipkeyError], Response]) -> Iterator[None]:
    """Within: a domain error (but ``NotFound``) refuses the form: ``form(error)`` shows it again
    with the reason."""
    try:
        yield
    except NotFound:
        raise
    except ShipkeyError as exc:
        raise Answer(form(exc)) from exc


@contextmanager
def titled_on_error(request: Request, title: str) -> Iterator[None]:
    """Within: a domain error (but ``NotFound``) is answered with its error page under
    ``title``."""
    try:
        yield
    except NotFound:
        raise
    except ShipkeyError as exc:
        raise error_page(request, exc, title=title) from exc


def install(app: FastAPI) -> None:
    """The static files and the HTML error pages of both the portal and the admin."""
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")

    @app.exception_handler(PageError)
    def _page_error(request: Request, exc: PageError) -> Response:
        # A plain function runs in the thread pool: the page looks up who is signed in.
        return render(
            request,
            "error.html",
            {"title": exc.title, "message": exc.message},
            status_code=exc.status_code,
        )

    @app.exception_handler(Answer)
    async def _answer(_request: Request, exc: Answer) -> Response:
        return exc.response

    @app.exception_handler(NeedsSignIn)
    async def _needs_sign_in(request: Request, exc: NeedsSignIn) -> Response:
        return redirect(request, f"{exc.login_path}?{urlencode({'next': exc.next_path})}")
