"""The one mapping of domain errors to page answers (:mod:`shipkey.web.errors`): the error page
has the status the API gives the same error; a refused change is rolled back before its notice or
form is sent; a route without the mapping keeps the JSON answer."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi import APIRouter, Request
from fastapi.testclient import TestClient
from starlette.responses import Response

from shipkey.admin import service as tokens
from shipkey.db.engine import Database
from shipkey.errors import (
    BadRequest,
    Conflict,
    Forbidden,
    Gone,
    NotFound,
    ShipkeyError,
    TooManyRequests,
)
from shipkey.http.deps import DbSession
from shipkey.http.fast_lane import FastLane
from shipkey.web.errors import PAGE_ERRORS, form_on_error, notice_on_error
from shipkey.web.render import redirect, render

ERRORS: list[type[ShipkeyError]] = [
    BadRequest,
    Forbidden,
    NotFound,
    Conflict,
    Gone,
    TooManyRequests,
]


@pytest.fixture
def pages(app: FastLane) -> Iterator[TestClient]:
    """The app with a few test pages that refuse, answered as pages and in JSON."""
    paged = APIRouter(prefix="/test-pages", dependencies=[PAGE_ERRORS])
    plain = APIRouter(prefix="/test-json")

    @paged.get("/error/{index}")
    @plain.get("/error/{index}")
    def refuse(index: int) -> Response:
        raise ERRORS[index]("Refused for a reason.")

    @paged.get("/notice")
    def notice(request: Request, session: DbSession) -> Response:
        tokens.create_token(session, "written-then-refused")
        with notice_on_error(request, "/test-pages/back"):
            raise Conflict("Not now.")
        return redirect(request, "/nowhere")

    @paged.get("/missing")
    def missing(request: Request) -> Response:
        with notice_on_error(request, "/test-pages/back"):
            raise NotFound("Nothing here.")
        return redirect(request, "/nowhere")

    @paged.get("/form")
    def form(request: Request, session: DbSession) -> Response:
        tokens.create_token(session, "written-then-refused")
        with form_on_error(
            lambda exc: render(
                request, "error.html", {"title": "Form", "message": exc.message}, status_code=422
            )
        ):
            raise Conflict("The slug is taken.")
        return redirect(request, "/nowhere")

    app.app.include_router(paged)
    app.app.include_router(plain)
    with TestClient(app) as client:
        yield client


@pytest.mark.parametrize("index", range(len(ERRORS)))
def test_an_error_page_has_the_status_the_api_gives(pages: TestClient, index: int) -> None:
    api = pages.get(f"/test-json/error/{index}")
    page = pages.get(f"/test-pages/error/{index}")
    assert page.status_code == api.status_code == ERRORS[index].status_code
    assert api.json()["error"] == "Refused for a reason."
    assert page.headers["content-type"].startswith("text/html")
    assert "Refused for a reason." in page.text


def test_error_pages_are_titled_by_status(pages: TestClient) -> None:
    assert "<title>Not found" in pages.get(f"/test-pages/error/{ERRORS.index(NotFound)}").text
    many = pages.get(f"/test-pages/error/{ERRORS.index(TooManyRequests)}")
    assert "<title>Too many requests" in many.text
    german = pages.get("/test-pages/error/0", headers={"accept-language": "de"})
    assert "<title>Fehler" in german.text


def test_a_refused_change_is_rolled_back_and_shown_as_a_notice(
    pages: TestClient, db: Database
) -> None:
    answer = pages.get("/test-pages/notice", follow_redirects=False)
    assert answer.status_code == 303
    assert answer.headers["location"] == "/test-pages/back"
    assert "set-cookie" in answer.headers  # the notice travels in the session
    with db.read_session() as session:
        assert [t.name for t in tokens.list_tokens(session)] == []
    assert pages.get("/test-pages/missing").status_code == 404


def test_a_refused_form_is_rolled_back_and_shown_again(pages: TestClient, db: Database) -> None:
    answer = pages.get("/test-pages/form")
    assert answer.status_code == 422
    assert "The slug is taken." in answer.text
    with db.read_session() as session:
        assert tokens.list_tokens(session) == []
