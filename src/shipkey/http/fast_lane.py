"""The fast lane: the route programs call the most, answered before the framework's layers.

A request to any FastAPI route passes through Starlette's error and exception middleware,
FastAPI's telemetry and body-limit middleware, an exit stack, the router (and each included
router's own layer) and FastAPI's request handler, each wrapping ``receive`` and ``send`` once
more. For ``POST /api/licenses/validate`` those layers cost more than the validation itself: the
endpoint ran at 0.22–0.30× the requests per second of an empty endpoint (bench/README.md,
fifth round). :class:`ShipkeyApp` answers the routes registered with :meth:`ShipkeyApp.fast_route`
straight from the server's call, with the same endpoint function, and still through:

* the app's own middleware (``add_middleware``: the body limit, the embedded worker's
  foreground count), in the same order;
* the app's exception handlers, looked up as Starlette does (by status code for an
  ``HTTPException``, then along the exception's class hierarchy), so every error answer is the
  one the framework would give; an unexpected error is answered 500 and re-raised for the
  server to log, as Starlette's ``ServerErrorMiddleware`` does.

Everything else (other methods on the same path, every other path, the OpenAPI document, which
keeps the route) goes through FastAPI as before. An endpoint in the lane takes the
:class:`~starlette.requests.Request` alone and returns a :class:`~starlette.responses.Response`:
no dependencies, no declared body.
"""

from __future__ import annotations

import inspect
from collections.abc import Awaitable, Callable
from typing import Any

from fastapi import FastAPI
from fastapi.routing import APIRoute
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp, Receive, Scope, Send

Endpoint = Callable[[Request], Awaitable[Response]]


class ShipkeyApp(FastAPI):
    """FastAPI, plus a fast lane for a few routes (see the module's documentation)."""

    def __init__(self, **options: Any) -> None:
        super().__init__(**options)
        self._lane: dict[tuple[str, str], Endpoint] = {}
        self._lane_stacks: dict[tuple[str, str], ASGIApp] | None = None

    @property
    def fast_routes(self) -> list[tuple[str, str]]:
        """``(method, path)`` of every route answered in the fast lane."""
        return sorted(self._lane)

    def fast_route(self, route: APIRoute) -> None:
        """Answer ``route`` (already added to the app) in the fast lane, for each of its
        methods. Its endpoint must take the request alone."""
        parameters = list(inspect.signature(route.endpoint).parameters.values())
        if len(parameters) != 1 or parameters[0].annotation not in (Request, "Request"):
            raise TypeError(f"{route.path}: a fast-lane endpoint takes the Request alone")
        for method in route.methods or ():
            self._lane[(method, route.path)] = route.endpoint
        self._lane_stacks = None

    def build_lane(self, endpoint: Endpoint) -> ASGIApp:
        """``endpoint`` inside the app's own middleware, as the framework would wrap it."""
        app: ASGIApp = _LaneEndpoint(self, endpoint)
        for cls, args, kwargs in reversed(self.user_middleware):
            app = cls(app, *args, **kwargs)
        return app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if self._lane and scope["type"] == "http":
            stacks = self._lane_stacks
            if stacks is None:  # built on first use: middleware is added after the routes
                stacks = {key: self.build_lane(endpoint) for key, endpoint in self._lane.items()}
                self._lane_stacks = stacks
            stack = stacks.get((scope["method"], _route_path(scope)))
            if stack is not None:
                scope["app"] = self
                await stack(scope, receive, send)
                return
        await super().__call__(scope, receive, send)


def _route_path(scope: Scope) -> str:
    """The path the router matches: without the ``root_path`` the app is mounted under."""
    path: str = scope["path"]
    root: str = scope.get("root_path", "")
    if root and path.startswith(root) and path[len(root) : len(root) + 1] == "/":
        return path[len(root) :]
    return path


class _LaneEndpoint:
    """Calls the endpoint and sends its response; an exception becomes the answer the app's
    handler for it gives."""

    def __init__(self, app: FastAPI, endpoint: Endpoint) -> None:
        self.app = app
        self.endpoint = endpoint

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        request = Request(scope, receive, send)
        try:
            response = await self.endpoint(request)
        except Exception as exc:
            handler = _handler_for(self.app, exc)
            if handler is None:
                raise
            answer = handler(request, exc)
            response = await answer if inspect.isawaitable(answer) else answer
            await response(scope, receive, send)
            if _is_last_resort(self.app, handler):
                raise  # as ServerErrorMiddleware: answered, and the server logs it too
            return
        await response(scope, receive, send)


Handler = Callable[[Request, Exception], Any]


def _handler_for(app: FastAPI, exc: Exception) -> Handler | None:
    handlers: dict[Any, Handler] = app.exception_handlers
    if isinstance(exc, HTTPException) and exc.status_code in handlers:
        return handlers[exc.status_code]
    for cls in type(exc).__mro__:
        if cls in handlers:
            return handlers[cls]
    return handlers.get(500)


def _is_last_resort(app: FastAPI, handler: Handler) -> bool:
    handlers = app.exception_handlers
    return handler is handlers.get(Exception) or handler is handlers.get(500)
