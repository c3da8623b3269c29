"""A 1 GiB upload and its download through ``shipkey serve`` run in constant memory.

The server runs as it does for users (Granian, a worker process); the test reads the worker's
peak resident memory (VmHWM) from /proc before and after. Memory is asserted, never time.
"""

from __future__ import annotations

import hashlib
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

GIB = 1024**3
CHUNK = 1024 * 1024
MAX_GROWTH = 64 * 1024 * 1024
TOKEN = "sk_admin_large-file-test-token"


def _children(pid: int) -> list[int]:
    try:
        text = Path(f"/proc/{pid}/task/{pid}/children").read_text()
    except FileNotFoundError:
        return []
    return [int(p) for p in text.split()]


def _peak_rss(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) * 1024
    raise AssertionError("no VmHWM")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@pytest.fixture
def served(tmp_path: Path) -> Iterator[tuple[str, int]]:
    port = _free_port()
    env = {
        **os.environ,
        "SHIPKEY_DATA_DIR": str(tmp_path / "data"),
        "SHIPKEY_ADMIN_TOKEN": TOKEN,
        "SHIPKEY_BASE_URL": f"http://127.0.0.1:{port}",
    }
    env.pop("SHIPKEY_DATABASE_URL", None)
    process = subprocess.Popen(
        [sys.executable, "-m", "shipkey", "serve", "--port", str(port)],
        env=env,
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
        workers = _children(process.pid)
        assert len(workers) == 1
        yield base, workers[0]
    finally:
        process.send_signal(signal.SIGINT)
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()


def _body(digest: hashlib._Hash) -> Iterator[bytes]:
    block = os.urandom(CHUNK)
    for index in range(GIB // CHUNK):
        chunk = index.to_bytes(8, "big") + block[8:]
        digest.update(chunk)
        yield chunk


def test_one_gib_upload_and_download_in_constant_memory(served: tuple[str, int]) -> None:
    base, worker = served
    auth = {"Authorization": f"Bearer {TOKEN}"}
    with httpx.Client(base_url=base, headers=auth, timeout=300) as http:
        assert http.post("/api/admin/products", json={"name": "Big", "slug": "big"}).is_success
        # warm up every code path once before taking the baseline
        http.put("/api/admin/products/big/file?filename=w.bin", content=b"w" * CHUNK)
        warm = http.post("/api/admin/purchases", json={"product": "big", "email": "w@example.com"})
        http.get(warm.json()["downloadLinks"][0]["downloadUrl"]).raise_for_status()
        baseline = _peak_rss(worker)

        sent = hashlib.sha256()
        upload = http.put(
            "/api/admin/products/big/file?filename=big.bin",
            content=_body(sent),
            headers={"Content-Type": "application/octet-stream"},
        )
        assert upload.status_code == 200, upload.text
        assert upload.json()["fileSize"] == GIB
        assert upload.json()["sha256"] == sent.hexdigest()
        after_upload = _peak_rss(worker)

        purchase = http.post("/api/admin/purchases", json={"product": "big", "email": "b@e.com"})
        url = purchase.json()["downloadLinks"][0]["downloadUrl"]
        received = hashlib.sha256()
        size = 0
        with http.stream("GET", url) as response:
            assert response.status_code == 200
            for chunk in response.iter_bytes(CHUNK):
                received.update(chunk)
                size += len(chunk)
        assert size == GIB
        assert received.hexdigest() == sent.hexdigest()
        resumed = http.get(url, headers={"Range": f"bytes={GIB - 10}-"})
        assert resumed.status_code == 206
        assert len(resumed.content) == 10
        after_download = _peak_rss(worker)

    assert after_upload - baseline < MAX_GROWTH, (baseline, after_upload)
    assert after_download - baseline < MAX_GROWTH, (baseline, after_download)
