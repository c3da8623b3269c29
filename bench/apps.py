"""The apps the benchmarks serve: shipkey itself, plus a bound that lives in the same app.

``create_bench_app`` is shipkey exactly as ``shipkey serve`` builds it, with one extra route,
``GET /bench/empty``, that answers ``{}``: the cost of the server, the middleware and FastAPI
alone, measured on the same server with the same worker count. It exists only here, never in
the public app.
"""

from __future__ import annotations

from fastapi import FastAPI

from shipkey.app import create_app_from_env

EMPTY_PATH = "/bench/empty"


def create_bench_app() -> FastAPI:
    app = create_app_from_env()

    @app.get(EMPTY_PATH, include_in_schema=False)
    async def empty() -> dict[str, str]:
        return {}

    return app
