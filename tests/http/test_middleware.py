"""The middleware around every request: what the embedded worker's give-way counts."""

from __future__ import annotations

import asyncio

import pytest
from starlette.types import Message, Receive, Scope, Send

from shipkey.http.middleware import Foreground, ForegroundMiddleware

SCOPE: Scope = {"type": "http", "method": "GET", "path": "/", "headers": []}


async def _nothing() -> Message:
    return {"type": "http.request", "body": b"", "more_body": False}


def test_a_request_counts_until_its_answer_starts_not_while_its_body_streams() -> None:
    foreground = Foreground()
    seen: list[tuple[str, int]] = []

    async def app(_scope: Scope, _receive: Receive, send: Send) -> None:
        seen.append(("working", foreground.busy))
        await send({"type": "http.response.start", "status": 200, "headers": []})
        seen.append(("streaming", foreground.busy))
        await send({"type": "http.response.body", "body": b"x", "more_body": False})

    async def sent(message: Message) -> None:
        seen.append((message["type"], foreground.busy))

    asyncio.run(ForegroundMiddleware(app, foreground)(SCOPE, _nothing, sent))
    assert seen == [
        ("working", 1),
        ("http.response.start", 0),
        ("streaming", 0),
        ("http.response.body", 0),
    ]


def test_a_request_that_fails_before_answering_stops_counting() -> None:
    foreground = Foreground()

    async def app(_scope: Scope, _receive: Receive, _send: Send) -> None:
        raise RuntimeError("a bug")

    async def sent(_message: Message) -> None:
        raise AssertionError("nothing is sent")

    with pytest.raises(RuntimeError):
        asyncio.run(ForegroundMiddleware(app, foreground)(SCOPE, _nothing, sent))
    assert foreground.busy == 0


def test_lifespan_and_websocket_scopes_are_not_counted() -> None:
    foreground = Foreground()
    busy: list[int] = []

    async def app(_scope: Scope, _receive: Receive, _send: Send) -> None:
        busy.append(foreground.busy)

    async def sent(_message: Message) -> None:
        return None

    asyncio.run(ForegroundMiddleware(app, foreground)({"type": "lifespan"}, _nothing, sent))
    assert busy == [0]


@pytest.mark.parametrize("raw", [b"1_0", b"+10", b"-1", b"\xb2", b"10 0"])
def test_an_odd_content_length_is_not_read_as_a_number(raw: bytes) -> None:
    from shipkey.http.middleware import _content_length

    assert _content_length({"headers": [(b"content-length", raw)]}) is None
    assert _content_length({"headers": [(b"content-length", b"10")]}) == 10
