"""The apps the benchmarks serve: shipkey itself, plus a bound that lives in the same app.

``create_bench_app`` is shipkey exactly as ``shipkey serve`` builds it, with one extra route,
``/bench/empty``, that answers ``{}``: the cost of the server, the middleware and FastAPI
alone, measured on the same server with the same worker count. ``POST`` takes a JSON object
first, like ``/api/licenses/validate``, to show what reading a body costs. It exists only here,
never in the public app.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI

from shipkey.app import create_app_from_env

EMPTY_PATH = "/bench/empty"


def create_bench_app() -> FastAPI:
    app = create_app_from_env()

    @app.get(EMPTY_PATH, include_in_schema=False)
    async def empty() -> dict[str, str]:
        return {}

    @app.post(EMPTY_PATH, include_in_schema=False)
    async def empty_post(body: dict[str, Any]) -> dict[str, str]:
        return {}

    # Matched first, before any of shipkey's routes: the bound pays no routing at all.
    bound = app.router.routes[-2:]
    app.router.routes[:] = bound + app.router.routes[:-2]
    return app
