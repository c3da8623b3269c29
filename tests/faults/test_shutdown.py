"""SIGTERM while a download is on its way: the server finishes it within
``SHIPKEY_SHUTDOWN_GRACE`` and then exits; a download that outlasts the grace is cut, and the
buyer resumes it with ``Range`` once the server is back."""

from __future__ import annotations

import hashlib
import os
import signal
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.faults.served import Server, environment, free_port

SIZE = 32 * 1024 * 1024
"""Larger than what the loopback socket buffers of both sides hold, so that a client that stops
reading keeps the server's answer from ending."""


@pytest.fixture
def content() -> bytes:
    return os.urandom(SIZE)


def _server(tmp_path: Path, database_url: str, port: int, **extra: str) -> Server:
    env = environment(database_url, tmp_path / "data", port, **extra)
    return Server(port, env, tmp_path / "serve.log")


def _download_url(server: Server, content: bytes) -> str:
    with server.admin() as http:
        http.post("/api/admin/products", json={"name": "Film", "slug": "film"}).raise_for_status()
        http.put(
            "/api/admin/products/film/file?filename=film.bin",
            content=content,
            headers={"Content-Type": "application/octet-stream"},
        ).raise_for_status()
        sale = http.post("/api/admin/purchases", json={"product": "film", "email": "b@e.com"})
        sale.raise_for_status()
        url: str = sale.json()["downloadLinks"][0]["downloadUrl"]
        return url


def _read(response: httpx.Response) -> Iterator[bytes]:
    """The body as it comes, until the end or until the server cuts it."""
    try:
        yield from response.iter_raw(256 * 1024)
    except httpx.TransportError:
        return


def test_a_download_under_way_finishes_before_the_server_exits(
    tmp_path: Path, database_url: str, content: bytes
) -> None:
    server = _server(tmp_path, database_url, free_port()).start()
    try:
        url = _download_url(server, content)
        received = bytearray()
        with httpx.stream("GET", url, timeout=60) as response:
            assert response.status_code == 200
            chunks = _read(response)
            received += next(chunks)
            server.signal(signal.SIGTERM)
            for chunk in chunks:
                received += chunk
        assert server.wait(timeout=60) == 0, server.output()
        assert hashlib.sha256(received).digest() == hashlib.sha256(content).digest()
    finally:
        server.stop()


def test_a_download_that_outlasts_the_grace_is_cut_and_resumed_with_range(
    tmp_path: Path, database_url: str, content: bytes
) -> None:
    port = free_port()
    server = _server(tmp_path, database_url, port, SHIPKEY_SHUTDOWN_GRACE="1").start()
    try:
        url = _download_url(server, content)
        received = bytearray()
        with httpx.stream("GET", url, timeout=60) as response:
            assert response.status_code == 200
            chunks = _read(response)
            received += next(chunks)
            server.signal(signal.SIGTERM)
            # The client reads nothing more until the server is gone: only the grace ends it.
            server.wait(timeout=60)
            for chunk in chunks:
                received += chunk
        assert 0 < len(received) < SIZE
        assert content.startswith(bytes(received))
    finally:
        server.stop()

    again = _server(tmp_path, database_url, port).start()
    try:
        rest = httpx.get(url, headers={"Range": f"bytes={len(received)}-"}, timeout=60)
        assert rest.status_code == 206, rest.text
        assert bytes(received) + rest.content == content
    finally:
        again.stop()
