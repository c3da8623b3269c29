"""The client side of resumable uploads, used by ``shipkey files upload``.

It hashes the file, opens (or finds again) the upload session for that file, and sends it in
chunks from wherever the server is; a dropped connection is retried from the server's offset.
Running the same command again after an interruption resumes instead of starting over.
"""

from __future__ import annotations

import hashlib
import mimetypes
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx

CHUNK_SIZE = 16 * 1024 * 1024
RETRIES = 5

Progress = Callable[[str, int, int], None]
"""Called with (phase, done, total); phase is ``hashing`` or ``uploading``."""


class UploadError(Exception):
    """The upload failed; the message says why (the server's own words when it answered)."""


def sha256_of(path: Path, progress: Progress | None = None) -> str:
    digest = hashlib.sha256()
    total = path.stat().st_size
    done = 0
    with path.open("rb") as handle:
        while block := handle.read(1 << 20):
            digest.update(block)
            done += len(block)
            if progress:
                progress("hashing", done, total)
    return digest.hexdigest()


def _answer(response: httpx.Response) -> dict[str, Any]:
    try:
        body: dict[str, Any] = response.json()
    except ValueError:
        body = {"error": response.text[:200] or response.reason_phrase}
    if response.is_error and not (response.status_code == 409 and "received" in body):
        raise UploadError(f"{response.status_code} {body.get('code', '')}: {body.get('error')}")
    return body


def upload(
    http: httpx.Client,
    product: str,
    path: Path,
    *,
    chunk_size: int = CHUNK_SIZE,
    progress: Progress | None = None,
    file_name: str | None = None,
) -> dict[str, Any]:
    """Upload ``path`` as the product's file through ``http`` (base URL and admin token set).

    Returns the server's final answer: ``{…, complete: true, file: {fileName, fileSize,
    fileMimeType, sha256}}``.
    """
    path = Path(path)
    size = path.stat().st_size
    sha256 = sha256_of(path, progress)
    name = file_name or path.name
    content_type = mimetypes.guess_type(name)[0] or "application/octet-stream"
    session = _answer(
        http.post(
            f"/api/admin/products/{quote(product, safe='')}/uploads",
            json={"fileName": name, "size": size, "contentType": content_type, "sha256": sha256},
        )
    )
    url = f"/api/admin/uploads/{session['id']}"
    received = int(session["received"])
    failures = 0
    with path.open("rb") as handle:
        while True:
            if progress:
                progress("uploading", received, size)
            handle.seek(received)
            block = handle.read(chunk_size)
            headers = {"Content-Type": "application/octet-stream"}
            if size:
                headers["Content-Range"] = f"bytes {received}-{received + len(block) - 1}/{size}"
            try:
                answer = _answer(http.put(url, content=block, headers=headers))
            except httpx.TransportError as exc:
                failures += 1
                if failures > RETRIES:
                    raise UploadError(f"the connection keeps failing: {exc}") from exc
                time.sleep(min(2**failures, 30))
                received = int(_answer(http.get(url))["received"])
                continue
            failures = 0
            if answer.get("complete"):
                if progress:
                    progress("uploading", size, size)
                return answer
            received = int(answer["received"])
