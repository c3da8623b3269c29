"""Webhook to inbox: signed ``checkout.session.completed`` events until every e-mail has arrived.

``shipkey serve`` (Granian, embedded worker, SQLite by default) receives ``--events`` signed
Stripe events for a Payment Link sale (``metadata.product`` and ``customer_details.email``),
each from a different buyer, sent by ``--concurrency`` clients as fast as they are accepted;
``--duplicates`` of them are sent a second time at once, as Stripe does on retries. The
delivery e-mails go to an aiosmtpd server in its own process that records each recipient.

Measured: orders accepted per second (every answer 2xx), the time from the first event until
the last e-mail reached the SMTP server, and that each buyer got exactly one e-mail. The
client's own CPU time is shown, to show it is not the bottleneck.

    .venv/bin/python -m bench.webhooks [--events 2000] [--concurrency 32] [--db postgresql]
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import contextlib
import copy
import hashlib
import hmac
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from bench.common import (
    PYTHON,
    ROOT,
    VENV_BIN,
    console,
    free_port,
    running,
    table,
    tree_cpu,
    verdict,
    write_results,
)

ADMIN_TOKEN = "sk_admin_bench-webhooks"  # noqa: S105 - a throwaway token for a local bench
WEBHOOK_SECRET = "whsec_bench_webhooks"  # noqa: S105
WEBHOOK_PATH = "/api/webhooks/stripe"
PRODUCT = "bench-app"
GOAL_ACCEPTED = 200.0
FIXTURES = ROOT.parent / "shared" / "fixtures" / "stripe"
"""The contract's Stripe fixtures, when this checkout sits beside shared/ (optional)."""

POSTGRES_URL = os.environ.get(
    "SHIPKEY_BENCH_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/shipkey_bench"
)


def sign(body: bytes, secret: str, timestamp: int) -> str:
    """The ``Stripe-Signature`` header Stripe sends: ``t=<unix>,v1=<HMAC-SHA256 hex>``."""
    mac = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256)
    return f"t={timestamp},v1={mac.hexdigest()}"


def _session_template() -> dict[str, Any]:
    path = FIXTURES / "checkout_session.json"
    if path.exists():
        data: dict[str, Any] = json.loads(path.read_text())
        return data
    return {"object": "checkout.session", "mode": "payment", "status": "complete"}


def make_event(index: int, run: str, template: dict[str, Any]) -> dict[str, Any]:
    """A paid Payment Link checkout by buyer ``index``, as Stripe would send it."""
    session = copy.deepcopy(template)
    email = buyer(index)
    session.update(
        {
            "id": f"cs_bench_{run}_{index}",
            "object": "checkout.session",
            "mode": "payment",
            "status": "complete",
            "payment_status": "paid",
            "amount_total": 1900,
            "amount_subtotal": 1900,
            "currency": "eur",
            "client_reference_id": None,
            "customer_email": email,
            "customer_details": {**(session.get("customer_details") or {}), "email": email},
            "metadata": {"product": PRODUCT},
            "payment_intent": f"pi_bench_{run}_{index}",
            "locale": "en",
        }
    )
    return {
        "id": f"evt_bench_{run}_{index}",
        "object": "event",
        "api_version": "2024-06-20",
        "created": int(time.time()),
        "livemode": False,
        "pending_webhooks": 1,
        "request": {"id": None, "idempotency_key": None},
        "type": "checkout.session.completed",
        "data": {"object": session},
    }


def buyer(index: int) -> str:
    return f"buyer{index}@bench.example"


def arrivals(path: Path) -> tuple[dict[str, float], Counter[str], float | None]:
    """From the sink's file: when each recipient's first message arrived (unix time), how many
    each got, and when the last message arrived."""
    first: dict[str, float] = {}
    counts: Counter[str] = Counter()
    last = None
    if path.exists():
        for line in path.read_text().splitlines():
            stamp, _, rcpt = line.partition(" ")
            counts[rcpt] += 1
            last = float(stamp)
            first.setdefault(rcpt, last)
    return first, counts, last


def wait_for_inbox(
    path: Path, recipients: int, timeout: float
) -> tuple[dict[str, float], Counter[str], float | None]:
    """:func:`arrivals` once ``recipients`` have had a message (or ``timeout`` seconds have
    passed), and two seconds more for any duplicate still on its way."""
    console.print("Waiting for every e-mail …")
    deadline = time.monotonic() + timeout
    first, _, _ = arrivals(path)
    while len(first) < recipients and time.monotonic() < deadline:
        time.sleep(0.2)
        first, _, _ = arrivals(path)
    time.sleep(2)  # any duplicate still on its way
    return arrivals(path)


def signed_bodies(events: int, run_id: str) -> list[bytes]:
    """The bodies of ``events`` checkout events, each from another buyer (signed when sent)."""
    template = _session_template()
    return [
        json.dumps(make_event(i, run_id, template), separators=(",", ":")).encode()
        for i in range(events)
    ]


@dataclass(frozen=True)
class Shop:
    """A running ``shipkey serve`` with the bench's product, its e-mail going to a sink."""

    port: int
    base: str
    inbox: Path
    """The sink's file: a line ``<unix time> <recipient>`` per message."""
    server: subprocess.Popen[bytes]


@contextlib.contextmanager
def running_shop(work: Path, db: str, workers: int = 1) -> Iterator[Shop]:
    """``shipkey serve`` (``workers`` Granian workers, the embedded job worker) on a fresh
    database (``postgresql`` or SQLite in ``work``) and the SMTP sink, the product made, until
    the block ends."""
    smtp_port, port = free_port(), free_port()
    inbox = work / "received.txt"
    log = work / "servers.log"
    env = {
        "SHIPKEY_DATA_DIR": str(work / "var"),
        "SHIPKEY_ADMIN_TOKEN": ADMIN_TOKEN,
        "SHIPKEY_RATE_LIMITS": "off",
        "SHIPKEY_STRIPE_WEBHOOK_SECRET": WEBHOOK_SECRET,
        "SHIPKEY_STRIPE_SECRET_KEY": "sk_test_bench_unused",
        "SHIPKEY_SMTP_URL": f"smtp://127.0.0.1:{smtp_port}",
        "SHIPKEY_BASE_URL": f"http://127.0.0.1:{port}",
    }
    if db == "postgresql":
        from bench.licenses import reset_database

        reset_database(POSTGRES_URL)
        env["SHIPKEY_DATABASE_URL"] = POSTGRES_URL
    else:
        env["SHIPKEY_DATABASE_URL"] = f"sqlite:///{work / 'shipkey.db'}"
        _migrate({**os.environ, **env})
    base = f"http://127.0.0.1:{port}"
    sink = [PYTHON, "-m", "bench.smtp_sink", "--port", str(smtp_port), "--out", str(inbox)]
    serve = [str(VENV_BIN / "shipkey"), "serve", "--port", str(port), "--workers", str(workers)]
    with (
        running(sink, log=log, cwd=ROOT),
        running(serve, env=env, ready_url=f"{base}/healthz", log=log) as server,
    ):
        httpx.post(
            f"{base}/api/admin/products",
            headers={"Authorization": f"Bearer {ADMIN_TOKEN}"},
            json={"name": "Bench App", "slug": PRODUCT, "type": "LICENSE", "price": 1900},
            timeout=30,
        ).raise_for_status()
        yield Shop(port, base, inbox, server)


async def read_response(reader: asyncio.StreamReader) -> tuple[int, bool]:
    """One HTTP/1.1 answer read off ``reader`` (its body skipped): (status, whether the server
    will close the connection)."""
    head = (await reader.readuntil(b"\r\n\r\n")).decode("latin-1")
    status_line, *lines = head[:-4].split("\r\n")
    status = int(status_line.split(" ", 2)[1])
    length, chunked, closing = 0, False, False
    for line in lines:
        name, _, value = line.partition(":")
        name, value = name.strip().lower(), value.strip().lower()
        if name == "content-length":
            length = int(value)
        elif name == "transfer-encoding":
            chunked = "chunked" in value
        elif name == "connection":
            closing = value == "close"
    if chunked:
        while True:
            size = int((await reader.readuntil(b"\r\n")).split(b";")[0], 16)
            await reader.readexactly(size + 2)  # the chunk and its CRLF (the last: just CRLF)
            if size == 0:
                break
    elif length:
        await reader.readexactly(length)
    return status, closing


def request_bytes(host: str, body: bytes, signature: str) -> bytes:
    return (
        f"POST {WEBHOOK_PATH} HTTP/1.1\r\nHost: {host}\r\n"
        f"Content-Type: application/json\r\nStripe-Signature: {signature}\r\n"
        f"Content-Length: {len(body)}\r\n\r\n"
    ).encode() + body


async def send_all(
    host: str, port: int, bodies: list[bytes], concurrency: int
) -> tuple[float, list[int], float]:
    """POST every body with ``concurrency`` keep-alive connections, each waiting for its answer
    before the next request; (wall seconds, statuses, client CPU s).

    A few lines of asyncio streams rather than an HTTP library: at 250 requests a second httpx
    took most of a core of this 2-core machine, the core the server needs.
    """
    queue = collections.deque(bodies)
    statuses: list[int] = []
    authority = f"{host}:{port}"

    async def client() -> None:
        reader, writer = await asyncio.open_connection(host, port)
        try:
            while queue:
                body = queue.popleft()
                signature = sign(body, WEBHOOK_SECRET, int(time.time()))
                writer.write(request_bytes(authority, body, signature))
                status, closing = await read_response(reader)
                statuses.append(status)
                if closing:
                    writer.close()
                    reader, writer = await asyncio.open_connection(host, port)
        finally:
            writer.close()

    cpu = time.process_time()
    started = time.perf_counter()
    await asyncio.gather(*(client() for _ in range(concurrency)))
    return time.perf_counter() - started, statuses, time.process_time() - cpu


def run(
    events: int, duplicates: int, concurrency: int, db: str, timeout: float, workers: int = 1
) -> dict[str, Any]:
    work = Path(tempfile.mkdtemp(prefix="shipkey-bench-webhooks-"))
    try:
        return _run(work, events, duplicates, concurrency, db, timeout, workers)
    finally:
        shutil.rmtree(work, ignore_errors=True)


def _run(
    work: Path,
    events: int,
    duplicates: int,
    concurrency: int,
    db: str,
    timeout: float,
    workers: int,
) -> dict[str, Any]:
    bodies = signed_bodies(events, f"{int(time.time())}")
    sends = bodies + bodies[:duplicates]
    with running_shop(work, db, workers) as shop:
        probe = httpx.post(
            shop.base + WEBHOOK_PATH,
            content=b"{}",
            headers={"stripe-signature": "t=1,v1=00", "content-type": "application/json"},
        )
        if probe.status_code == 404:
            raise SystemExit(
                f"{WEBHOOK_PATH} is not served by this build: the Stripe webhook is needed."
            )
        console.print(f"Sending {len(sends):,} events with {concurrency} clients …")
        started = time.time()
        cpu_before = tree_cpu(shop.server.pid)
        wall, statuses, client_cpu = asyncio.run(
            send_all("127.0.0.1", shop.port, sends, concurrency)
        )
        accept_cpu = tree_cpu(shop.server.pid) - cpu_before
        bad = Counter(status for status in statuses if not 200 <= status < 300)
        _, counts, last = wait_for_inbox(shop.inbox, events, timeout)
    expected = {buyer(i) for i in range(events)}
    delivered = expected & set(counts)
    twice = sorted(rcpt for rcpt, n in counts.items() if n > 1)
    strangers = sorted(set(counts) - expected)
    accepted_rate = len(sends) / wall
    return {
        "database": db,
        "workers": workers,
        "events": events,
        "duplicatesSent": duplicates,
        "concurrency": concurrency,
        "acceptSeconds": wall,
        "acceptedPerSecond": accepted_rate,
        "non2xx": dict(bad),
        "clientCpuSeconds": client_cpu,
        "serverCpuMsPerEvent": accept_cpu / len(sends) * 1000,
        "delivered": len(delivered),
        "deliveredTwice": len(twice),
        "unexpectedRecipients": len(strangers),
        "secondsUntilLastEmail": (last - started) if last is not None else None,
        "goals": {
            "acceptedPerSecond": accepted_rate >= GOAL_ACCEPTED and not bad,
            "exactlyOnce": len(delivered) == events and not twice and not strangers,
        },
    }


def _migrate(env: dict[str, str]) -> None:
    subprocess.run([str(VENV_BIN / "shipkey"), "migrate"], env=env, check=True)  # noqa: S603


def show(results: dict[str, Any]) -> None:
    goals = results["goals"]
    last = results["secondsUntilLastEmail"]
    console.print(
        table(
            f"Webhook to inbox: {results['events']:,} signed checkout.session.completed "
            f"(+{results['duplicatesSent']:,} duplicates), {results['concurrency']} clients, "
            f"{results['database']}, {results.get('workers', 1)} worker(s)",
            ["measure", "value", "goal"],
            [
                [
                    "orders accepted per second",
                    results["acceptedPerSecond"],
                    f"≥ {GOAL_ACCEPTED:g}  {verdict(goals['acceptedPerSecond'])}",
                ],
                ["seconds to accept every event", results["acceptSeconds"], ""],
                [
                    "server CPU ms per event while accepting",
                    results.get("serverCpuMsPerEvent", "-"),
                    "",
                ],
                ["answers other than 2xx", sum(results["non2xx"].values()), "0"],
                [
                    "seconds until the last e-mail arrived",
                    "never" if last is None else last,
                    "",
                ],
                [
                    "buyers with their e-mail",
                    f"{results['delivered']:,} of {results['events']:,}",
                    "all, exactly once  " + verdict(goals["exactlyOnce"]),
                ],
                ["buyers with two e-mails", results["deliveredTwice"], "0"],
                ["client CPU seconds (load generator)", results["clientCpuSeconds"], ""],
            ],
        )
    )


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--events", type=int, default=2000)
    parser.add_argument("--duplicates", type=int, default=200)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--db", choices=["sqlite", "postgresql"], default="sqlite")
    parser.add_argument("--timeout", type=float, default=600)
    parser.add_argument("--workers", type=int, default=1, help="shipkey serve --workers")
    args = parser.parse_args(argv)
    results = run(
        args.events, args.duplicates, args.concurrency, args.db, args.timeout, args.workers
    )
    show(results)
    name = f"webhooks-{args.db}" + ("" if args.workers == 1 else f"-workers{args.workers}")
    console.print(f"results: {write_results(name, results)}")
    if not results["delivered"]:
        sys.exit(1)


if __name__ == "__main__":
    main()
