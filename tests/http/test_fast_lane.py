"""The fast lane: a route answered before the framework's layers, with the same answers."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated

import pytest
from fastapi import Depends, FastAPI, Request
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.responses import JSONResponse, Response

from shipkey.errors import Conflict, error_response, exception_handlers
from shipkey.http.fast_lane import FastLane, _route_path
from shipkey.http.middleware import BodyLimitMiddleware, Foreground, ForegroundMiddleware

LIMIT = 64
foreground = Foreground()


async def echo(request: Request) -> Response:
    """Answers what it was asked; some bodies fail, as an endpoint can."""
    body = await request.body()
    if body == b"bug":
        raise RuntimeError("a bug")
    if body == b"conflict":
        raise Conflict("Already there.", "ALREADY_THERE", detail="x")
    if body == b"teapot":
        raise HTTPException(418, "I am a teapot.", headers={"X-Tea": "green"})
    if body == b"busy":
        return JSONResponse({"busy": foreground.busy})
    routed = "endpoint" in request.scope  # set by the router, never in the lane
    return JSONResponse({"length": len(body), "routed": routed})


async def _teapot(_request: Request, exc: HTTPException) -> JSONResponse:
    return error_response(str(exc.detail), "TEAPOT", 418, headers=dict(exc.headers or {}))


def _app() -> FastLane:
    middleware = [
        Middleware(ForegroundMiddleware, foreground=foreground),
        Middleware(BodyLimitMiddleware, max_bytes=LIMIT),
    ]
    handlers = exception_handlers() | {418: _teapot}
    app = FastAPI(middleware=middleware, exception_handlers=handlers)
    app.add_api_route("/hot", echo, methods=["POST"])
    app.add_api_route("/cold", echo, methods=["POST"])  # the same endpoint, through FastAPI
    hot = app.routes[-2]
    assert isinstance(hot, APIRoute)
    lane = FastLane(app, middleware=middleware, handlers=handlers)
    lane.add(hot)
    return lane


@pytest.fixture
def lane() -> Iterator[TestClient]:
    with TestClient(_app(), raise_server_exceptions=False) as client:
        yield client


def test_the_lane_answers_its_route_without_the_router(lane: TestClient) -> None:
    assert lane.app.fast_routes == [("POST", "/hot")]  # type: ignore[attr-defined]
    assert lane.post("/hot", content=b"abc").json() == {"length": 3, "routed": False}
    assert lane.post("/cold", content=b"abc").json() == {"length": 3, "routed": True}


@pytest.mark.parametrize(
    "body", [b"", b"x" * LIMIT, b"x" * (LIMIT + 1), b"bug", b"conflict", b"teapot", b"busy"]
)
def test_every_answer_is_the_one_the_framework_gives(lane: TestClient, body: bytes) -> None:
    fast, framework = lane.post("/hot", content=body), lane.post("/cold", content=body)
    assert fast.status_code == framework.status_code
    assert fast.headers.get("content-type") == framework.headers.get("content-type")
    assert fast.headers.get("retry-after") == framework.headers.get("retry-after")
    assert fast.headers.get("x-tea") == framework.headers.get("x-tea")
    routed = {"routed": True}  # the one difference: which way the request went
    assert {**fast.json(), **routed} == {**framework.json(), **routed}


def test_errors_are_answered_by_the_apps_handlers(lane: TestClient) -> None:
    conflict = lane.post("/hot", content=b"conflict")
    assert conflict.status_code == 409
    assert conflict.json() == {"error": "Already there.", "code": "ALREADY_THERE", "detail": "x"}
    teapot = lane.post("/hot", content=b"teapot")  # a handler registered for a status code
    assert (teapot.status_code, teapot.json()["code"], teapot.headers["x-tea"]) == (
        418,
        "TEAPOT",
        "green",
    )
    bug = lane.post("/hot", content=b"bug")
    assert (bug.status_code, bug.json()) == (
        500,
        {"error": "Internal server error.", "code": "INTERNAL_ERROR"},
    )


def test_an_unexpected_error_is_answered_and_raised_for_the_server_to_log() -> None:
    with TestClient(_app()) as strict, pytest.raises(RuntimeError, match="a bug"):
        strict.post("/hot", content=b"bug")


def test_the_apps_middleware_guards_the_lane(lane: TestClient) -> None:
    declared = lane.post("/hot", content=b"x" * (LIMIT + 1))
    assert (declared.status_code, declared.json()["code"]) == (413, "PAYLOAD_TOO_LARGE")

    def chunks() -> Iterator[bytes]:  # no Content-Length: counted as it arrives
        yield b"x" * LIMIT
        yield b"x"

    streamed = lane.post("/hot", content=chunks())
    assert (streamed.status_code, streamed.json()["code"]) == (413, "PAYLOAD_TOO_LARGE")
    # The embedded worker's give-way counts a request in the lane while it is worked on.
    assert lane.post("/hot", content=b"busy").json() == {"busy": 1}
    assert foreground.busy == 0


def test_other_methods_and_paths_go_through_the_framework(lane: TestClient) -> None:
    wrong = lane.get("/hot")
    assert (wrong.status_code, wrong.json()["code"]) == (405, "METHOD_NOT_ALLOWED")
    assert lane.post("/hot/", follow_redirects=False).status_code == 307  # the router's own
    assert lane.post("/nowhere").status_code == 404
    assert "/hot" in lane.app.openapi()["paths"]  # type: ignore[attr-defined]


def test_the_lane_matches_below_the_root_path() -> None:
    with TestClient(_app(), root_path="/shop") as client:
        assert client.post("/shop/hot", content=b"ab").json() == {"length": 2, "routed": False}
    assert _route_path({"path": "/shop/hot", "root_path": "/shop"}) == "/hot"
    assert _route_path({"path": "/hot", "root_path": ""}) == "/hot"
    assert _route_path({"path": "/shopping/hot", "root_path": "/shop"}) == "/shopping/hot"


def test_only_an_endpoint_that_takes_the_request_alone_can_use_the_lane() -> None:
    app = FastAPI()

    async def with_dependency(
        request: Request, name: Annotated[str, Depends(lambda: "x")]
    ) -> Response:
        return Response(name)

    app.add_api_route("/dep", with_dependency, methods=["POST"])
    route = app.routes[-1]
    assert isinstance(route, APIRoute)
    with pytest.raises(TypeError, match="takes the Request alone"):
        FastLane(app, middleware=[], handlers={}).add(route)


async def named(request: Request) -> Response:
    return JSONResponse(
        {"name": request.path_params["name"], "routed": "endpoint" in request.scope}
    )


def test_a_route_with_path_parameters_is_matched_by_its_pattern() -> None:
    app = FastAPI(exception_handlers=exception_handlers())
    app.add_api_route("/items/{name}/latest", named, methods=["GET"])
    route = app.routes[-1]
    assert isinstance(route, APIRoute)
    lane = FastLane(app, middleware=[], handlers=exception_handlers())
    lane.add(route)
    with TestClient(lane) as client:
        assert client.get("/items/a-b/latest").json() == {"name": "a-b", "routed": False}
        assert client.get("/items/a/b/latest").status_code == 404  # {name} takes no slash
        assert client.post("/items/a/latest").status_code == 405  # through the framework
        assert client.get("/items/a/latest/x").status_code == 404
