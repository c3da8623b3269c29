"""The apps the benchmarks serve: shipkey itself, plus a bound that lives in the same app.

``create_bench_app`` is shipkey exactly as ``shipkey serve`` builds it, with one extra route,
``/bench/empty``, that answers ``{}``: the cost of the server, the middleware and FastAPI
alone, measured on the same server with the same worker count. ``POST`` takes a JSON object
first, like ``/api/licenses/validate``, to show what reading a body costs. It exists only here,
never in the public app.

``/bench/lane-empty`` answers ``{}`` to a ``POST`` in the fast lane (:mod:`shipkey.http.fast_lane`),
where license validation is answered: the floor of the lane itself (the server, shipkey's own
middleware, reading the body), a stricter bound than the empty endpoint.
"""

from __future__ import annotations

from typing import Any

from fastapi import Request
from fastapi.routing import APIRoute
from starlette.responses import Response

from shipkey.app import create_app_from_env
from shipkey.http.fast_lane import FastLane

EMPTY_PATH = "/bench/empty"
LANE_EMPTY_PATH = "/bench/lane-empty"


def create_bench_app() -> FastLane:
    lane = create_app_from_env()
    app = lane.app

    @app.get(EMPTY_PATH, include_in_schema=False)
    async def empty() -> dict[str, str]:
        return {}

    @app.post(EMPTY_PATH, include_in_schema=False)
    async def empty_post(body: dict[str, Any]) -> dict[str, str]:
        return {}

    @app.post(LANE_EMPTY_PATH, include_in_schema=False)
    async def lane_empty(request: Request) -> Response:
        await request.body()
        return Response(b"{}", media_type="application/json")

    route = app.router.routes[-1]
    if isinstance(route, APIRoute):
        lane.add(route)

    # Matched first, before any of shipkey's routes: the bound pays no routing at all.
    bound = app.router.routes[-3:-1]
    app.router.routes[:] = bound + app.router.routes[:-3] + app.router.routes[-1:]
    return lane
