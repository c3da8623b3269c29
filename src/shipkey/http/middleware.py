"""ASGI middleware that guards every request before it reaches a route."""

from __future__ import annotations

import json
import re
import threading

from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

DEFAULT_MAX_BODY = 1024 * 1024  # JSON bodies; file uploads stream and are exempt
GIVE_WAY_SECONDS = 0.05
"""The longest the embedded worker waits for the web side to go quiet before each job."""


class Foreground:
    """The requests this process is working on (from arrival until their answer starts),
    counted by :class:`shipkey.http.middleware.ForegroundMiddleware`, so that the embedded worker
    can give way to them.

    ``shipkey serve`` runs the web side and a worker in one process, and Python runs one thread
    at a time: a job (a delivery e-mail is several milliseconds of work) taken while requests
    wait delays every one of them. Stripe retries a webhook that is not answered in time, and a
    burst of sales is exactly when the e-mails pile up. So the embedded worker takes its next
    job when no request is being worked on, or after :data:`GIVE_WAY_SECONDS` at the latest:
    under a load that never pauses it still runs about fifteen jobs a second, and it catches
    up at full speed as soon as the load pauses. A separate ``shipkey worker`` does not wait.
    """

    def __init__(self) -> None:
        self._count = 0
        self._lock = threading.Lock()  # taken directly on every request: cheaper than the
        self._quiet = threading.Condition(self._lock)  # condition's own (Python) methods

    @property
    def busy(self) -> int:
        return self._count

    def enter(self) -> None:
        with self._lock:
            self._count += 1

    def leave(self) -> None:
        with self._lock:
            self._count -= 1
            if self._count == 0:
                self._quiet.notify_all()

    def give_way(self, longest: float = GIVE_WAY_SECONDS) -> None:
        """Return when no request is being worked on, or after ``longest`` seconds."""
        with self._quiet:
            self._quiet.wait_for(lambda: self._count == 0, timeout=longest)


class BodyLimitMiddleware:
    """Refuse request bodies over ``max_bytes`` with 413 ``PAYLOAD_TOO_LARGE``.

    A declared ``Content-Length`` over the limit is refused before anything is read; a chunked
    body is counted as it arrives. Paths matching ``exempt`` (streamed uploads) are not limited.
    """

    def __init__(
        self, app: ASGIApp, max_bytes: int = DEFAULT_MAX_BODY, exempt: str | None = None
    ) -> None:
        self.app = app
        self.max_bytes = max_bytes
        self.exempt = re.compile(exempt) if exempt else None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or (self.exempt and self.exempt.match(scope["path"])):
            await self.app(scope, receive, send)
            return
        declared = _content_length(scope)
        if declared is not None and declared > self.max_bytes:
            await self._refuse(send)
            return
        seen = 0

        async def limited_receive() -> Message:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.max_bytes:
                    # FastAPI re-raises HTTPException from body parsing; the handler adds the code.
                    raise HTTPException(413, self._message())
            return message

        await self.app(scope, limited_receive, send)

    def _message(self) -> str:
        return f"The request body is larger than {self.max_bytes} bytes."

    async def _refuse(self, send: Send) -> None:
        body = json.dumps({"error": self._message(), "code": "PAYLOAD_TOO_LARGE"}).encode()
        await send(
            {
                "type": "http.response.start",
                "status": 413,
                "headers": [
                    (b"content-type", b"application/json"),
                    (b"content-length", str(len(body)).encode()),
                    (b"connection", b"close"),
                ],
            }
        )
        await send({"type": "http.response.body", "body": body})


def _content_length(scope: Scope) -> int | None:
    for name, value in scope.get("headers", []):
        if name == b"content-length":
            digits = value.strip(b" \t")
            # ASCII digits only: int() would also take "+10", "-1" and "1_0"
            return int(digits) if digits.isdigit() and len(digits) < 20 else None
    return None


class ForegroundMiddleware:
    """Count each HTTP request in ``foreground`` from its arrival until its answer starts (a
    long download counts only until its headers are sent): the embedded worker gives way while
    any is being worked on (see :class:`shipkey.jobs.worker.Foreground`)."""

    def __init__(self, app: ASGIApp, foreground: Foreground) -> None:
        self.app = app
        self.foreground = foreground

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        foreground = self.foreground
        foreground.enter()
        working = True

        async def answering(message: Message) -> None:
            nonlocal working
            if working and message["type"] == "http.response.start":
                working = False
                foreground.leave()
            await send(message)

        try:
            await self.app(scope, receive, answering)
        finally:
            if working:
                foreground.leave()
