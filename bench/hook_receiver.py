"""The seller's side of ``bench.hooks``: an ASGI app that verifies every webhook with the
Standard Webhooks reference library and appends ``<webhook-id> ok|bad`` to a file.

    SHIPKEY_BENCH_SECRET=whsec_… SHIPKEY_BENCH_RECEIVED=/tmp/received.txt \\
        uvicorn bench.hook_receiver:app
"""

from __future__ import annotations

import os
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from standardwebhooks import Webhook

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]

_webhook = Webhook(os.environ["SHIPKEY_BENCH_SECRET"])
_out = open(os.environ["SHIPKEY_BENCH_RECEIVED"], "a", buffering=1)  # noqa: SIM115 (lives with the process)


async def app(
    scope: Scope,
    receive: Callable[[], Awaitable[Message]],
    send: Callable[[Message], Awaitable[None]],
) -> None:
    if scope["type"] != "http":
        return
    body = b""
    while True:
        message = await receive()
        body += message.get("body", b"")
        if not message.get("more_body"):
            break
    headers = {k.decode("latin-1"): v.decode("latin-1") for k, v in scope["headers"]}
    try:
        _webhook.verify(body, headers, json_parse=False)
        verdict = "ok"
    except Exception:  # noqa: BLE001 (any refusal counts as bad)
        verdict = "bad"
    _out.write(f"{headers.get('webhook-id', '-')} {verdict}\n")
    await send({"type": "http.response.start", "status": 204, "headers": []})
    await send({"type": "http.response.body", "body": b""})
