"""The disk full during an upload: a clean 507 ``INSUFFICIENT_STORAGE``, nothing half-stored,
and the resumable upload goes on from where it was once there is room again.

The data dir is a small tmpfs mounted for the test (mounting needs root, as the suite runs in
CI); the database lives elsewhere."""

from __future__ import annotations

import hashlib
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.faults.served import Server, environment, free_port

MIB = 1024 * 1024
SIZE = 6 * MIB


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    assert os.geteuid() == 0, "this scenario mounts a tmpfs: run the suite as root (CI does)"
    mount = tmp_path / "disk"
    mount.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=4m", "tmpfs", str(mount)], check=True)
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=True)


def _grow(mount: Path, size: str) -> None:
    subprocess.run(["mount", "-o", f"remount,size={size}", str(mount)], check=True)


def _used(mount: Path) -> int:
    stat = os.statvfs(mount)
    return (stat.f_blocks - stat.f_bfree) * stat.f_frsize


def test_an_upload_that_fills_the_disk_is_refused_cleanly_and_resumed_later(
    tmp_path: Path, database_url: str, small_disk: Path
) -> None:
    content = os.urandom(SIZE)
    port = free_port()
    server = Server(port, environment(database_url, small_disk, port), tmp_path / "serve.log")
    server.start()
    try:
        with server.admin() as http:
            http.post("/api/admin/products", json={"name": "Big", "slug": "big"}).raise_for_status()
            before = _used(small_disk)

            # A server may answer before it has read a refused body and then close the
            # connection (HTTP/1.1 allows it): such requests ask not to keep it.
            simple = http.put(
                "/api/admin/products/big/file?filename=a.bin",
                content=content,
                headers={"Connection": "close"},
            )
            assert simple.status_code == 507, simple.text
            assert simple.json()["code"] == "INSUFFICIENT_STORAGE"
            assert set(simple.json()) == {"error", "code"}
            assert http.get("/api/admin/products/big").json()["fileSize"] is None
            assert _used(small_disk) <= before + 64 * 1024  # nothing of it was kept

            opened = http.post(
                "/api/admin/products/big/uploads",
                json={
                    "fileName": "big.bin",
                    "size": SIZE,
                    "sha256": hashlib.sha256(content).hexdigest(),
                },
            )
            assert opened.status_code == 201, opened.text
            upload = opened.json()["id"]
            first = http.put(
                f"/api/admin/uploads/{upload}",
                content=content[: 2 * MIB],
                headers={"Content-Range": f"bytes 0-{2 * MIB - 1}/{SIZE}"},
            )
            assert first.status_code == 200, first.text
            assert first.json()["received"] == 2 * MIB

            full = http.put(
                f"/api/admin/uploads/{upload}",
                content=content[2 * MIB :],
                headers={
                    "Content-Range": f"bytes {2 * MIB}-{SIZE - 1}/{SIZE}",
                    "Connection": "close",
                },
            )
            assert full.status_code == 507, full.text
            assert full.json()["code"] == "INSUFFICIENT_STORAGE"
            assert http.get(f"/api/admin/uploads/{upload}").json()["received"] == 2 * MIB

            _grow(small_disk, "32m")
            rest = http.put(
                f"/api/admin/uploads/{upload}",
                content=content[2 * MIB :],
                headers={"Content-Range": f"bytes {2 * MIB}-{SIZE - 1}/{SIZE}"},
            )
            assert rest.status_code == 200, rest.text
            assert rest.json()["complete"] is True
            assert rest.json()["file"]["sha256"] == hashlib.sha256(content).hexdigest()
            assert http.get("/api/admin/products/big").json()["fileSize"] == SIZE
    finally:
        server.stop()
