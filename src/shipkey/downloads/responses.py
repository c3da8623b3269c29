"""Turning a serve plan into an HTTP answer, by ``SHIPKEY_DOWNLOAD_MODE``:

- ``stream``: the app sends the bytes (with Range);
- ``redirect``: a 302 to a short-lived presigned S3 URL whose answer carries the same
  ``Content-Disposition``, ``Content-Type`` and ``Cache-Control`` (S3 honours Range itself);
- ``x-accel``: an empty answer with ``X-Accel-Redirect``; nginx sends the file (and any Range)
  from its internal location and keeps the headers set here.

``stream`` sends the whole file with ASGI ``pathsend`` when the server offers it and the file is
on local disk (zero-copy in Granian), and otherwise reads it in 1 MiB chunks, so memory stays flat
for files of any size.
"""

from __future__ import annotations

from email.utils import format_datetime
from typing import Any

from starlette.responses import Response
from starlette.types import Receive, Scope, Send

from shipkey.config import Settings
from shipkey.downloads.serving import ServePlan
from shipkey.http.files import ByteRange, content_disposition
from shipkey.storage import Storage

DEFAULT_MIME_TYPE = "application/octet-stream"


ACTIVE_TYPES = frozenset(
    {
        "text/html",
        "application/xhtml+xml",
        "image/svg+xml",
        "text/xml",
        "application/xml",
        "text/xsl",
        "application/xslt+xml",
        "text/javascript",
        "application/javascript",
        "application/x-javascript",
        "application/ecmascript",
        "text/ecmascript",
        "multipart/x-mixed-replace",
        "application/x-shockwave-flash",
    }
)
"""Media types a browser would render as a page or run as script: a seller's file of one of
these (HTML, SVG, XML, …) is served as bytes, so it can never run on shipkey's origin."""
SANDBOX = "default-src 'none'; sandbox"
"""The Content-Security-Policy of every product file: should a browser show one anyway, it
runs nothing and loads nothing."""


def served_content_type(mime_type: str) -> str:
    """The ``Content-Type`` a product file is served with: the stored one, except for
    :data:`ACTIVE_TYPES` and any XML type (``…+xml``), which are ``application/octet-stream``."""
    base = mime_type.split(";", 1)[0].strip().lower()
    if base in ACTIVE_TYPES or base.endswith("+xml"):
        return DEFAULT_MIME_TYPE
    return mime_type


def file_headers(plan: ServePlan) -> dict[str, str]:
    """What every answer with a product file carries: always ``attachment``, with ``nosniff``
    and a sandbox, so no file a seller uploads renders as a page of shipkey's."""
    file = plan.file
    return {
        "content-type": served_content_type(file.mime_type),
        "content-disposition": content_disposition(file.name),
        "accept-ranges": "bytes",
        "etag": file.etag,
        "last-modified": format_datetime(file.uploaded_at, usegmt=True),
        **KEEP_PRIVATE,
        "x-content-type-options": "nosniff",
        "content-security-policy": SANDBOX,
    }


KEEP_PRIVATE = {"cache-control": "no-store", "referrer-policy": "no-referrer"}
"""On every answer that a link with a secret in its URL gets: no cache keeps it, and no page
it leads to learns the URL from ``Referer``."""


class StoredFileResponse(Response):
    """A whole stored file or one byte range of it, streamed in constant memory."""

    def __init__(
        self,
        storage: Storage,
        plan: ServePlan,
        headers: dict[str, str],
        *,
        head: bool = False,
    ) -> None:
        self.storage = storage
        self.plan = plan
        self.head = head
        size = plan.file.size
        byte_range: ByteRange | None = plan.range
        if byte_range is not None and (byte_range.start > 0 or byte_range.end < size - 1):
            self.start, self.end = byte_range.start, byte_range.end
            status = 206
            headers["content-range"] = byte_range.content_range(size)
        else:
            self.start, self.end = 0, size - 1
            status = 206 if byte_range is not None else 200
            if byte_range is not None:
                headers["content-range"] = f"bytes 0-{size - 1}/{size}"
        headers["content-length"] = str(max(self.end - self.start + 1, 0))
        super().__init__(content=None, status_code=status, headers=headers)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await send(
            {"type": "http.response.start", "status": self.status_code, "headers": self.raw_headers}
        )
        if self.head or self.end < self.start:
            await send({"type": "http.response.body", "body": b"", "more_body": False})
            return
        whole = self.start == 0 and self.end == self.plan.file.size - 1
        path = self.storage.local_path(self.plan.file.key) if whole else None
        if path is not None and "http.response.pathsend" in scope.get("extensions", {}):
            await send({"type": "http.response.pathsend", "path": str(path)})
            return
        chunks = self.storage.iter_bytes(self.plan.file.key, self.start, self.end)
        try:
            async for chunk in chunks:
                await send({"type": "http.response.body", "body": chunk, "more_body": True})
        except OSError:  # the client went away (ASGI 2.4 servers raise on send)
            return
        finally:
            await _aclose(chunks)
        await send({"type": "http.response.body", "body": b"", "more_body": False})


async def _aclose(iterator: Any) -> None:
    close = getattr(iterator, "aclose", None)
    if close is not None:
        await close()


PRESIGNED_SECONDS = 120
"""How long a presigned URL of ``redirect`` mode can be used to start a download."""


def file_response(
    plan: ServePlan, storage: Storage, settings: Settings, *, head: bool = False
) -> Response:
    headers = file_headers(plan)
    if plan.not_modified:
        del headers["content-type"], headers["content-disposition"], headers["accept-ranges"]
        return Response(status_code=304, headers=headers)
    if plan.resumed:
        # The bytes taken from the link's resume budget are sent here, in every mode: a
        # presigned URL or nginx would send whatever range the client asked of them.
        return StoredFileResponse(storage, plan, headers, head=head)
    if settings.download_mode == "x-accel":
        # nginx serves the file (and any Range) from its internal location; it keeps these headers.
        headers["x-accel-redirect"] = settings.x_accel_prefix + plan.file.key
        del headers["accept-ranges"]  # nginx adds its own
        headers["x-accel-buffering"] = "no"
        return Response(status_code=200, headers=headers)
    if settings.download_mode == "redirect" and not head:
        url = storage.presigned_get(
            plan.file.key,
            filename_header=headers["content-disposition"],
            content_type=headers["content-type"],
            expires_in=PRESIGNED_SECONDS,
        )
        if url is not None:
            moved = {"location": url, **KEEP_PRIVATE, "x-content-type-options": "nosniff"}
            return Response(status_code=302, headers=moved)
    return StoredFileResponse(storage, plan, headers, head=head)
