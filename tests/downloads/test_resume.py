"""A download cut at any byte resumes to a byte-identical file, with httpx and with curl."""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient

from tests.factories import create_purchase, product_with_file

pytestmark = pytest.mark.usefixtures("download_mode")

SIZE = 3 * 1024 * 1024 + 333


def _cut(url: str, stop_after: int) -> tuple[bytes, str]:
    """Start a download and drop the connection after ``stop_after`` bytes."""
    received = bytearray()
    with (
        httpx.Client(timeout=30, follow_redirects=True) as http,
        http.stream("GET", url) as response,
    ):
        assert response.status_code == 200
        etag = response.headers["etag"]
        for chunk in response.iter_bytes(chunk_size=4096):
            received.extend(chunk)
            if len(received) >= stop_after:
                break
    return bytes(received[:stop_after]), etag


@pytest.mark.parametrize("cut", [1, 4095, 1024 * 1024, SIZE // 2 + 7, SIZE - 1])
def test_cut_download_resumes_byte_identical(admin: TestClient, live_server: str, cut: int) -> None:
    data = os.urandom(SIZE)
    product, _ = product_with_file(admin, content=data)
    purchase = create_purchase(admin, product["slug"])
    url = f"{live_server}/api/download/{purchase['downloadLinks'][0]['token']}"
    head, etag = _cut(url, cut)
    with httpx.Client(timeout=30, follow_redirects=True) as http:
        rest = http.get(url, headers={"Range": f"bytes={cut}-", "If-Range": etag})
    assert rest.status_code == 206
    assert hashlib.sha256(head + rest.content).digest() == hashlib.sha256(data).digest()
    assert admin.get(f"/api/admin/purchases/{purchase['id']}").json()["downloadCount"] == 1


@pytest.mark.needs("curl")
def test_curl_continue_at(admin: TestClient, live_server: str, tmp_path: Path) -> None:
    curl = shutil.which("curl")
    assert curl is not None, "tests/needs.py names curl"
    data = os.urandom(SIZE)
    product, _ = product_with_file(admin, content=data)
    purchase = create_purchase(admin, product["slug"])
    url = f"{live_server}/api/download/{purchase['downloadLinks'][0]['token']}"
    head, _ = _cut(url, 777_777)
    target = tmp_path / "book.pdf"
    target.write_bytes(head)
    command = [curl, "-sS", "-f", "-L", "-C", "-", "-o", str(target), url]
    subprocess.run(command, check=True, timeout=60)
    assert target.read_bytes() == data
    # a second full curl on the used link is refused
    again = subprocess.run(
        [curl, "-s", "-o", os.devnull, "-w", "%{http_code}", url],
        check=False,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert again.stdout == "410"


@pytest.mark.needs("wget")
def test_wget_continue_with_content_disposition(
    admin: TestClient, live_server: str, tmp_path: Path
) -> None:
    """wget asks HEAD for the name first, then resumes the file it finds under that name."""
    wget = shutil.which("wget")
    assert wget is not None, "tests/needs.py names wget"
    data = os.urandom(SIZE)
    product, _ = product_with_file(admin, content=data)
    purchase = create_purchase(admin, product["slug"])
    url = f"{live_server}/api/download/{purchase['downloadLinks'][0]['token']}"
    head, _ = _cut(url, 1_234_567)
    folder = tmp_path / "wget"
    folder.mkdir()
    (folder / "book.pdf").write_bytes(head)
    command = [wget, "-q", "-c", "--content-disposition", "--tries=1", url]
    subprocess.run(command, check=True, timeout=60, cwd=folder)
    assert sorted(path.name for path in folder.iterdir()) == ["book.pdf"]
    assert (folder / "book.pdf").read_bytes() == data
    assert admin.get(f"/api/admin/purchases/{purchase['id']}").json()["downloadCount"] == 1
