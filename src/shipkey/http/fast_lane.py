"""The fast lane: the routes programs call the most, answered in front of the framework.

A request to any FastAPI route passes through Starlette's error and exception middleware,
FastAPI's telemetry and body-limit middleware, an exit stack, the router (and each included
router's own layer) and FastAPI's request handler, each wrapping ``receive`` and ``send`` once
more. For ``POST /api/licenses/validate`` those layers cost more than the validation itself: the
endpoint ran at 0.22–0.30× the requests per second of an empty endpoint (bench/README.md,
fifth round).

:class:`FastLane` is an ASGI app in front of the FastAPI app. The routes given to it with
:meth:`FastLane.add` are answered straight from the server's call, with the same endpoint
function, and still through:

* the app's own middleware, given to the lane as the same list the app was made with, in the
  same order;
* the app's exception handlers, given to the lane as the same mapping the app was given and
  looked up as Starlette does (by status code for an ``HTTPException``, then along the
  exception's class hierarchy), so every error answer is the one the framework would give; an
  unexpected error is answered 500 and re-raised for the server to log, as Starlette's
  ``ServerErrorMiddleware`` does.

Everything else (other methods on the same path, every other path, the OpenAPI document, which
keeps the route, and the lifespan) goes to the FastAPI app. An endpoint in the lane takes the
:class:`~starlette.requests.Request` alone and returns a :class:`~starlette.responses.Response`:
no dependencies, no declared body.
"""

from __future__ import annotations

import inspect
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Any

from fastapi import FastAPI
from fastapi.routing import APIRoute
from starlette.datastructures import State
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute
from starlette.types import ASGIApp, Receive, Scope, Send

Endpoint = Callable[[Request], Awaitable[Response]]
Handler = Callable[[Request, Exception], Any]
Handlers = Mapping[Any, Handler]
"""Exception class or HTTP status code → handler, as ``FastAPI(exception_handlers=…)`` takes."""


class FastLane:
    """An ASGI app that answers a few routes itself and hands every other request to ``app``
    (see the module's documentation). ``middleware`` and ``handlers`` are the ones ``app`` was
    made with."""

    def __init__(
        self, app: FastAPI, *, middleware: Sequence[Middleware], handlers: Handlers
    ) -> None:
        self.app = app
        self._middleware = list(middleware)
        self._handlers = dict(handlers)
        self._lane: dict[tuple[str, str], ASGIApp] = {}
        self._patterns: list[tuple[str, APIRoute, ASGIApp]] = []
        """Lane routes with path parameters, matched by the route's own pattern."""

    @property
    def state(self) -> State:
        """The app's state (settings, database, storage, …)."""
        return self.app.state

    @property
    def routes(self) -> list[BaseRoute]:
        return self.app.routes

    def openapi(self) -> dict[str, Any]:
        return self.app.openapi()

    @property
    def fast_routes(self) -> list[tuple[str, str]]:
        """``(method, path)`` of every route answered in the fast lane."""
        return sorted([*self._lane, *((method, route.path) for method, route, _ in self._patterns)])

    def add(self, route: APIRoute) -> None:
        """Answer ``route`` (a route of the app) in the lane, for each of its methods. Its
        endpoint must take the request alone."""
        parameters = list(inspect.signature(route.endpoint).parameters.values())
        if len(parameters) != 1 or parameters[0].annotation not in (Request, "Request"):
            raise TypeError(f"{route.path}: a fast-lane endpoint takes the Request alone")
        stack: ASGIApp = _LaneEndpoint(route.endpoint, self._handlers)
        for layer in reversed(self._middleware):
            stack = layer.cls(stack, *layer.args, **layer.kwargs)
        for method in route.methods or ():
            if route.param_convertors:
                self._patterns.append((method, route, stack))
            else:
                self._lane[(method, route.path)] = stack

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if (self._lane or self._patterns) and scope["type"] == "http":
            path = _route_path(scope)
            stack = self._lane.get((scope["method"], path))
            if stack is None and self._patterns:
                stack = self._match(scope, path)
            if stack is not None:
                scope["app"] = self.app  # what ``request.app`` is in an endpoint
                await stack(scope, receive, send)
                return
        await self.app(scope, receive, send)

    def _match(self, scope: Scope, path: str) -> ASGIApp | None:
        """A lane route with path parameters that matches, its parameters put in the scope as
        the router puts them (``request.path_params``)."""
        for method, route, stack in self._patterns:
            if method != scope["method"]:
                continue
            found = route.path_regex.match(path)
            if found is not None:
                convertors = route.param_convertors
                scope["path_params"] = {
                    name: convertors[name].convert(value)
                    for name, value in found.groupdict().items()
                }
                return stack
        return None


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

    def __init__(self, endpoint: Endpoint, handlers: dict[Any, Handler]) -> None:
        self.endpoint = endpoint
        self.handlers = handlers

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        request = Request(scope, receive, send)
        try:
            response = await self.endpoint(request)
        except Exception as exc:
            handler = self._handler_for(exc)
            if handler is None:
                raise
            answer = handler(request, exc)
            response = await answer if inspect.isawaitable(answer) else answer
            await response(scope, receive, send)
            if handler is self.handlers.get(Exception) or handler is self.handlers.get(500):
                raise  # as ServerErrorMiddleware: answered, and the server logs it too
            return
        await response(scope, receive, send)

    def _handler_for(self, exc: Exception) -> Handler | None:
        handlers = self.handlers
        if isinstance(exc, HTTPException) and exc.status_code in handlers:
            return handlers[exc.status_code]
        for cls in type(exc).__mro__:
            if cls in handlers:
                return handlers[cls]
        return handlers.get(500)
