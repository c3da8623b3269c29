"""Seller webhooks, outbox to receiver: ``--events`` events already in the outbox are sent by one
``shipkey worker`` to a local receiver (uvicorn in its own process) that verifies each with the
Standard Webhooks reference library (``standardwebhooks``).

Measured: deliveries per second and the time from the worker's start until every event had
arrived (each once, each verified); the worker's resident memory as it goes (flat is the goal)
and its CPU time.

    .venv/bin/python -m bench.hooks [--events 10000] [--db postgresql]
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

from bench.common import (
    PYTHON,
    ROOT,
    VENV_BIN,
    MiB,
    console,
    free_port,
    running,
    table,
    tree_cpu,
    tree_rss,
    verdict,
    wait_http,
    write_results,
)
from bench.webhooks import POSTGRES_URL

GOAL_PER_SECOND = 500.0
BATCH = 1000


def _fill_outbox(env: dict[str, str], url: str, events: int) -> tuple[str, float]:
    """The endpoint (its secret) and ``events`` events for it, written as the app writes them."""
    script = f"""
import sys, time
from shipkey.config import Settings
from shipkey.db.engine import Database
from shipkey.hooks import emit, service
settings = Settings()
db = Database(settings.resolved_database_url)
with db.session() as session:
    secret = service.create_endpoint(session, {url!r}).secret
    session.commit()
started = time.perf_counter()
for first in range(0, {events}, {BATCH}):
    with db.session() as session:
        for n in range(first, min(first + {BATCH}, {events})):
            emit(session, "purchase.completed", {{"id": f"pur_{{n}}", "amount": 1900, "n": n}})
        session.commit()
print(secret, time.perf_counter() - started)
"""
    done = subprocess.run(
        [PYTHON, "-c", script], env=env, check=True, capture_output=True, text=True, cwd=ROOT
    )
    secret, seconds = done.stdout.split()
    return secret, float(seconds)


def _received(path: Path) -> tuple[Counter[str], int]:
    if not path.exists():
        return Counter(), 0
    ids: Counter[str] = Counter()
    bad = 0
    for line in path.read_text().splitlines():
        webhook_id, _, result = line.partition(" ")
        ids[webhook_id] += 1
        bad += result != "ok"
    return ids, bad


def run(events: int, db: str, timeout: float) -> dict[str, Any]:
    work = Path(tempfile.mkdtemp(prefix="shipkey-bench-hooks-"))
    try:
        return _run(work, events, db, timeout)
    finally:
        shutil.rmtree(work, ignore_errors=True)


def _run(work: Path, events: int, db: str, timeout: float) -> dict[str, Any]:
    port = free_port()
    received = work / "received.txt"
    log = work / "servers.log"
    env = {"SHIPKEY_DATA_DIR": str(work / "var"), "SHIPKEY_RATE_LIMITS": "off"}
    if db == "postgresql":
        from bench.licenses import reset_database

        reset_database(POSTGRES_URL)
        env["SHIPKEY_DATABASE_URL"] = POSTGRES_URL
    full_env = {**os.environ, **env}
    subprocess.run([str(VENV_BIN / "shipkey"), "migrate"], env=full_env, check=True, cwd=work)
    secret, fill_seconds = _fill_outbox(full_env, f"http://127.0.0.1:{port}/hook", events)
    console.print(f"{events:,} events in the outbox ({events / fill_seconds:,.0f} emits/s)")
    receiver_env = {"SHIPKEY_BENCH_SECRET": secret, "SHIPKEY_BENCH_RECEIVED": str(received)}
    receiver = [
        str(VENV_BIN / "uvicorn"),
        "bench.hook_receiver:app",
        "--port",
        str(port),
        "--log-level",
        "warning",
        "--no-access-log",
        "--backlog",
        "1024",
    ]
    rss: list[int] = []
    with running(receiver, env=receiver_env, log=log, cwd=ROOT):
        wait_http(f"http://127.0.0.1:{port}/hook")
        received.write_text("")
        started = time.perf_counter()
        first_at = None
        command = [str(VENV_BIN / "shipkey"), "worker"]
        with running(command, env=env, log=log, cwd=work) as worker:
            deadline = started + timeout
            while time.perf_counter() < deadline:
                ids, _bad = _received(received)
                if first_at is None and ids:
                    first_at = time.perf_counter()
                rss.append(tree_rss(worker.pid))
                if len(ids) >= events:
                    break
                time.sleep(0.25)
            finished = time.perf_counter()
            cpu = tree_cpu(worker.pid)
    ids, bad = _received(received)
    elapsed = finished - started
    arrived = len(ids)
    sending = finished - (first_at or started)
    samples = [value for value in rss if value]
    quarter = samples[len(samples) // 4] if samples else 0
    return {
        "db": db,
        "events": events,
        "arrived": arrived,
        "duplicates": sum(n - 1 for n in ids.values()),
        "badSignatures": bad,
        "secondsUntilAll": elapsed,
        "deliveriesPerSecond": arrived / elapsed,
        "deliveriesPerSecondAfterFirst": arrived / sending if sending else 0.0,
        "workerCpuSeconds": cpu,
        "workerCpuMsPerDelivery": cpu / arrived * 1000 if arrived else 0.0,
        "rssMiB": {
            "atQuarter": quarter / MiB,
            "peak": max(samples, default=0) / MiB,
            "last": (samples[-1] if samples else 0) / MiB,
        },
        "goals": {
            "perSecond": arrived / elapsed >= GOAL_PER_SECOND,
            "allVerifiedOnce": arrived == events and bad == 0,
        },
    }


def show(results: dict[str, Any]) -> None:
    goals = results["goals"]
    rss = results["rssMiB"]
    console.print(
        table(
            f"Seller webhooks: {results['events']:,} events, one worker, {results['db']}",
            ["what", "measured", "goal"],
            [
                [
                    "deliveries per second (from the worker's start)",
                    results["deliveriesPerSecond"],
                    f"≥ {GOAL_PER_SECOND:g}  {verdict(goals['perSecond'])}",
                ],
                [
                    "deliveries per second (from the first arrival)",
                    results["deliveriesPerSecondAfterFirst"],
                    "",
                ],
                ["seconds until every event arrived", results["secondsUntilAll"], ""],
                [
                    "arrived / bad signatures / repeats",
                    f"{results['arrived']:,} / {results['badSignatures']}"
                    f" / {results['duplicates']}",
                    "all, verified  " + verdict(goals["allVerifiedOnce"]),
                ],
                [
                    "worker CPU seconds (ms a delivery)",
                    f"{results['workerCpuSeconds']:.1f} ({results['workerCpuMsPerDelivery']:.2f})",
                    "",
                ],
                [
                    "worker RSS MiB (at a quarter / peak / last)",
                    f"{rss['atQuarter']:.0f} / {rss['peak']:.0f} / {rss['last']:.0f}",
                    "flat",
                ],
            ],
        )
    )


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--events", type=int, default=10_000)
    parser.add_argument("--db", choices=["sqlite", "postgresql"], default="sqlite")
    parser.add_argument("--timeout", type=float, default=600)
    args = parser.parse_args(argv)
    results = run(args.events, args.db, args.timeout)
    show(results)
    name = "hooks" if args.db == "sqlite" else f"hooks-{args.db}"
    console.print(f"results: {write_results(name, results)}")


if __name__ == "__main__":
    main()
