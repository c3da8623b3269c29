"""Payment to inbox: a steady stream of paid checkouts, and how long each e-mail takes.

``shipkey serve`` (Granian, one worker, the embedded job worker) receives ``--rate`` signed
``checkout.session.completed`` events a second for ``--seconds`` seconds, each from another
buyer, on PostgreSQL by default. The delivery e-mails go to an aiosmtpd server in its own
process that records when each recipient's message arrived. For every order: the seconds from
the webhook's answer to its e-mail's arrival; reported as p50, p99 and the largest, with the
number of e-mails that arrived twice.

    .venv/bin/python -m bench.inbox [--rate 50] [--seconds 60] [--db postgresql|sqlite]
"""

from __future__ import annotations

import argparse
import asyncio
import shutil
import statistics
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

from bench.common import (
    console,
    table,
    tree_cpu,
    verdict,
    write_results,
)
from bench.webhooks import (
    WEBHOOK_SECRET,
    buyer,
    read_response,
    request_bytes,
    running_shop,
    sign,
    signed_bodies,
    wait_for_inbox,
)

GOAL_P99_SECONDS = 2.0


async def send_steadily(
    host: str, port: int, bodies: list[bytes], rate: float, connections: int
) -> tuple[list[float], list[int], float]:
    """POST body ``i`` at ``start + i / rate`` on one of ``connections`` keep-alive
    connections; (unix time of each answer, statuses, the largest lag behind schedule)."""
    pool: asyncio.Queue[tuple[asyncio.StreamReader, asyncio.StreamWriter]] = asyncio.Queue()
    for _ in range(connections):
        pool.put_nowait(await asyncio.open_connection(host, port))
    answered = [0.0] * len(bodies)
    statuses = [0] * len(bodies)
    authority = f"{host}:{port}"
    lag = 0.0

    async def post(index: int, body: bytes) -> None:
        reader, writer = await pool.get()
        signature = sign(body, WEBHOOK_SECRET, int(time.time()))
        writer.write(request_bytes(authority, body, signature))
        status, closing = await read_response(reader)
        answered[index] = time.time()
        statuses[index] = status
        if closing:
            writer.close()
            reader, writer = await asyncio.open_connection(host, port)
        pool.put_nowait((reader, writer))

    loop = asyncio.get_running_loop()
    start = loop.time()
    tasks = []
    for index, body in enumerate(bodies):
        due = start + index / rate
        delay = due - loop.time()
        if delay > 0:
            await asyncio.sleep(delay)
        else:
            lag = max(lag, -delay)
        tasks.append(asyncio.create_task(post(index, body)))
    await asyncio.gather(*tasks)
    while not pool.empty():
        pool.get_nowait()[1].close()
    return answered, statuses, lag


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


def run(rate: float, seconds: float, db: str, connections: int, timeout: float) -> dict[str, Any]:
    work = Path(tempfile.mkdtemp(prefix="shipkey-bench-inbox-"))
    try:
        return _run(work, rate, seconds, db, connections, timeout)
    finally:
        shutil.rmtree(work, ignore_errors=True)


def _run(
    work: Path, rate: float, seconds: float, db: str, connections: int, timeout: float
) -> dict[str, Any]:
    events = int(rate * seconds)
    bodies = signed_bodies(events, f"inbox{int(time.time())}")
    with running_shop(work, db) as shop:
        console.print(f"Sending {events:,} events, {rate:g} a second …")
        cpu_before = tree_cpu(shop.server.pid)
        answered, statuses, lag = asyncio.run(
            send_steadily("127.0.0.1", shop.port, bodies, rate, connections)
        )
        first, counts, _ = wait_for_inbox(shop.inbox, events, timeout)
        server_cpu = tree_cpu(shop.server.pid) - cpu_before
    latencies = [
        first[buyer(i)] - answered[i] for i in range(events) if buyer(i) in first and answered[i]
    ]
    bad = Counter(status for status in statuses if not 200 <= status < 300)
    p99 = percentile(latencies, 0.99) if latencies else None
    return {
        "database": db,
        "rate": rate,
        "seconds": seconds,
        "events": events,
        "connections": connections,
        "largestSendLagSeconds": lag,
        "non2xx": dict(bad),
        "delivered": len(latencies),
        "deliveredTwice": sum(1 for n in counts.values() if n > 1),
        "p50Seconds": statistics.median(latencies) if latencies else None,
        "p99Seconds": p99,
        "maxSeconds": max(latencies) if latencies else None,
        "serverCpuSeconds": server_cpu,
        "goals": {
            "p99": p99 is not None and p99 < GOAL_P99_SECONDS and len(latencies) == events,
            "exactlyOnce": len(latencies) == events
            and not any(n > 1 for n in counts.values())
            and not bad,
        },
    }


def show(results: dict[str, Any]) -> None:
    goals = results["goals"]
    console.print(
        table(
            f"Payment to inbox: {results['rate']:g} orders/s for {results['seconds']:g} s, "
            f"{results['database']}, shipkey serve (one worker, embedded job worker)",
            ["measure", "value", "goal"],
            [
                ["webhook answer → e-mail arrived, p50 (s)", results["p50Seconds"], ""],
                [
                    "webhook answer → e-mail arrived, p99 (s)",
                    results["p99Seconds"],
                    f"< {GOAL_P99_SECONDS:g}  {verdict(goals['p99'])}",
                ],
                ["webhook answer → e-mail arrived, max (s)", results["maxSeconds"], ""],
                [
                    "buyers with their e-mail",
                    f"{results['delivered']:,} of {results['events']:,}",
                    "all, once  " + verdict(goals["exactlyOnce"]),
                ],
                ["buyers with two e-mails", results["deliveredTwice"], "0"],
                ["answers other than 2xx", sum(results["non2xx"].values()), "0"],
                ["sender's largest lag behind schedule (s)", results["largestSendLagSeconds"], ""],
                ["server CPU seconds", results["serverCpuSeconds"], ""],
            ],
        )
    )


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--rate", type=float, default=50)
    parser.add_argument("--seconds", type=float, default=60)
    parser.add_argument("--db", choices=["sqlite", "postgresql"], default="postgresql")
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--timeout", type=float, default=300)
    parser.add_argument("--name", default=None, help="results file name")
    args = parser.parse_args(argv)
    results = run(args.rate, args.seconds, args.db, args.connections, args.timeout)
    show(results)
    name = args.name or f"inbox-{args.db}"
    console.print(f"results: {write_results(name, results)}")
    if not results["delivered"]:
        sys.exit(1)


if __name__ == "__main__":
    main()
