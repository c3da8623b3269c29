"""A product file sent whole in one request (``PUT /api/admin/products/{ref}/file`` and the
admin page's upload), streamed into storage; big files can also come in resumable chunks
(:mod:`shipkey.catalog.uploads`)."""

from __future__ import annotations

from collections.abc import AsyncIterable, AsyncIterator
from dataclasses import dataclass

from starlette.concurrency import run_in_threadpool

from shipkey.catalog import service as catalog
from shipkey.db.engine import Database
from shipkey.storage import Storage


@dataclass(frozen=True)
class UploadedFile:
    """The file as stored: the name buyers see, its size, media type and SHA-256."""

    file_name: str
    file_size: int
    file_mime_type: str
    sha256: str


async def upload_file(
    db: Database,
    storage: Storage,
    ref: str,
    raw_file_name: str | None,
    content_type: str | None,
    chunks: AsyncIterable[bytes],
    *,
    content_length: str | None = None,
    max_bytes: int,
) -> UploadedFile:
    """Stream an upload into storage and attach it to the product.

    A file over ``max_bytes`` is 413 ``PAYLOAD_TOO_LARGE``: before anything is read when the
    request's ``Content-Length`` says so, else as soon as the bytes counted pass it (the
    storage then keeps nothing of it).

    This takes the database, not a session, because no transaction may be held while the bytes
    arrive (minutes, for a big file): the product is looked up first in a short read, the file
    is stored under a fresh key, and only then is the product row changed (one short unit of
    work). The file it replaces is deleted after that commit; a failed commit deletes the new one.
    """
    catalog.check_size(catalog.declared_length(content_length), max_bytes)
    file_name = catalog.clean_file_name(raw_file_name)
    mime_type = catalog.clean_mime_type(content_type, file_name)

    def _lookup() -> str:
        with db.read_session() as session:
            return catalog.get_product(session, ref).id

    product_id = await run_in_threadpool(_lookup)
    key = catalog.new_file_key(product_id)
    stored = await storage.save(key, _capped(chunks, max_bytes))

    def _attach() -> str | None:
        with db.session() as session:
            product = catalog.get_product(session, product_id)
            return catalog.attach_file(session, product, stored, file_name, mime_type)

    try:
        replaced = await run_in_threadpool(_attach)
    except BaseException:
        await run_in_threadpool(storage.delete, key)
        raise
    if replaced is not None and replaced != key:
        await run_in_threadpool(storage.delete, replaced)
    return UploadedFile(file_name, stored.size, mime_type, stored.sha256)


async def _capped(chunks: AsyncIterable[bytes], max_bytes: int) -> AsyncIterator[bytes]:
    """``chunks``, refused with 413 as soon as they add up to more than ``max_bytes``."""
    seen = 0
    async for chunk in chunks:
        seen += len(chunk)
        catalog.check_size(seen, max_bytes)
        yield chunk
