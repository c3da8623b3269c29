"""``shipkey serve`` run as users run it (Granian, a worker process), for the tests that measure
the worker's memory from /proc while large files go through it."""

from __future__ import annotations

import hashlib
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx

CHUNK = 1024 * 1024
MAX_GROWTH = 64 * 1024 * 1024
TOKEN = "sk_admin_large-file-test-token"


def children(pid: int) -> list[int]:
    try:
        text = Path(f"/proc/{pid}/task/{pid}/children").read_text()
    except FileNotFoundError:
        return []
    return [int(p) for p in text.split()]


def peak_rss(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) * 1024
    raise AssertionError("no VmHWM")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@contextmanager
def serve(tmp_path: Path, env: dict[str, str] | None = None) -> Iterator[tuple[str, int]]:
    """Run ``shipkey serve`` on SQLite in ``tmp_path``; yields (base URL, worker pid)."""
    port = free_port()
    environment = {
        **os.environ,
        "SHIPKEY_DATA_DIR": str(tmp_path / "data"),
        "SHIPKEY_ADMIN_TOKEN": TOKEN,
        "SHIPKEY_BASE_URL": f"http://127.0.0.1:{port}",
        **(env or {}),
    }
    environment.pop("SHIPKEY_DATABASE_URL", None)
    process = subprocess.Popen(
        [sys.executable, "-m", "shipkey", "serve", "--port", str(port)],
        env=environment,
        cwd=tmp_path,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                if httpx.get(f"{base}/healthz").status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline or process.poll() is not None:
                raise RuntimeError("shipkey serve did not start")
            time.sleep(0.1)
        workers = children(process.pid)
        assert len(workers) == 1
        yield base, workers[0]
    finally:
        process.send_signal(signal.SIGINT)
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()


def numbered_chunks(digest: hashlib._Hash, size: int) -> Iterator[bytes]:
    """``size`` bytes in 1 MiB chunks, each different (numbered), hashed into ``digest``."""
    block = os.urandom(CHUNK)
    for index in range(size // CHUNK):
        chunk = index.to_bytes(8, "big") + block[8:]
        digest.update(chunk)
        yield chunk
