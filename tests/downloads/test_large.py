"""A 1 GiB upload and its download through ``shipkey serve`` run in constant memory.

The server runs as it does for users (Granian, a worker process); the test reads the worker's
peak resident memory (VmHWM) from /proc before and after. Memory is asserted, never time.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.served import CHUNK, MAX_GROWTH, TOKEN, numbered_chunks, peak_rss, serve

GIB = 1024**3


@pytest.fixture
def served(tmp_path: Path) -> Iterator[tuple[str, int]]:
    with serve(tmp_path) as running:
        yield running


def test_one_gib_upload_and_download_in_constant_memory(served: tuple[str, int]) -> None:
    base, worker = served
    auth = {"Authorization": f"Bearer {TOKEN}"}
    with httpx.Client(base_url=base, headers=auth, timeout=300) as http:
        assert http.post("/api/admin/products", json={"name": "Big", "slug": "big"}).is_success
        # warm up every code path once before taking the baseline
        http.put("/api/admin/products/big/file?filename=w.bin", content=b"w" * CHUNK)
        warm = http.post("/api/admin/purchases", json={"product": "big", "email": "w@example.com"})
        http.get(warm.json()["downloadLinks"][0]["downloadUrl"]).raise_for_status()
        baseline = peak_rss(worker)

        sent = hashlib.sha256()
        upload = http.put(
            "/api/admin/products/big/file?filename=big.bin",
            content=numbered_chunks(sent, GIB),
            headers={"Content-Type": "application/octet-stream"},
        )
        assert upload.status_code == 200, upload.text
        assert upload.json()["fileSize"] == GIB
        assert upload.json()["sha256"] == sent.hexdigest()
        after_upload = peak_rss(worker)

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
        after_download = peak_rss(worker)

    assert after_upload - baseline < MAX_GROWTH, (baseline, after_upload)
    assert after_download - baseline < MAX_GROWTH, (baseline, after_download)
