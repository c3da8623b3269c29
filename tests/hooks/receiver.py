"""A real HTTP receiver for seller webhooks, on loopback in a thread, that behaves as told per
path: answers 200, fails the first N requests, redirects, or hangs until released."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from standardwebhooks import Webhook


@dataclass(frozen=True)
class Received:
    path: str
    headers: dict[str, str]
    body: bytes

    @property
    def webhook_id(self) -> str:
        return self.headers["webhook-id"]

    def verify(self, secret: str) -> Any:
        """The body, parsed, once the reference verifier has accepted the signature."""
        return Webhook(secret).verify(self.body, self.headers)


@dataclass
class Behaviour:
    fail_first: int = 0
    status: int = 500
    redirect_to: str | None = None
    hang: bool = False


@dataclass
class Receiver:
    url: str = ""
    behaviours: dict[str, Behaviour] = field(default_factory=dict)
    received: list[Received] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)
    hung: threading.Event = field(default_factory=threading.Event)
    release: threading.Event = field(default_factory=threading.Event)

    def at(self, path: str) -> list[Received]:
        with self.lock:
            return [r for r in self.received if r.path == path]

    def count(self, path: str) -> int:
        return len(self.at(path))


def _handler(receiver: Receiver) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_POST(self) -> None:  # noqa: N802 (the name http.server calls)
            body = self.rfile.read(int(self.headers.get("content-length", "0")))
            path = self.path
            with receiver.lock:
                receiver.received.append(
                    Received(path, {k.lower(): v for k, v in self.headers.items()}, body)
                )
                seen = sum(1 for r in receiver.received if r.path == path)
            behaviour = receiver.behaviours.get(path, Behaviour())
            if behaviour.hang:
                receiver.hung.set()
                receiver.release.wait(120)
                self.close_connection = True
                return
            if behaviour.redirect_to is not None:
                self._answer(302, b"", {"Location": behaviour.redirect_to})
            elif seen <= behaviour.fail_first:
                self._answer(behaviour.status, b"not now")
            else:
                self._answer(200, b"ok")

        def _answer(self, status: int, body: bytes, headers: dict[str, str] | None = None) -> None:
            self.send_response(status)
            for name, value in (headers or {}).items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
            return

    return Handler


class _Server(ThreadingHTTPServer):
    request_queue_size = 128  # the worker opens a connection per thread at once; 5 drops SYNs


@contextmanager
def running_receiver() -> Iterator[Receiver]:
    receiver = Receiver()
    server = _Server(("127.0.0.1", 0), _handler(receiver))
    server.daemon_threads = True
    receiver.url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield receiver
    finally:
        receiver.release.set()
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)
