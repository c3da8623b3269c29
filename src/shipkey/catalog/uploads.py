"""Resumable uploads of big product files.

A client opens an upload session (file name, size, and ideally its SHA-256), then sends the file
in chunks, each a ``PUT`` with ``Content-Range: bytes a-b/size`` starting where the server is.
The bytes wait in ``<data dir>/uploads/<id>.part``; what arrived before a dropped connection is
kept, and ``GET`` tells where to go on. When the last byte is in, the file is streamed into
storage (S3 multipart or local), hashed on the way, checked against the announced SHA-256, and
attached to the product; the session ends.

Opening a session again with the same product, size and SHA-256 returns the unfinished one, so a
client resumes without keeping any state of its own. A chunk being written holds a short lease
(a conditional UPDATE), so two clients can never write one session at once.
"""

from __future__ import annotations

import contextlib
import os
import re
from collections.abc import AsyncIterable
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import anyio
import anyio.to_thread
from sqlalchemy import or_, select, update
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

from shipkey.catalog import service as catalog
from shipkey.catalog.models import UploadSession
from shipkey.catalog.schemas import ProductFile
from shipkey.catalog.upload_schemas import UploadCreate
from shipkey.clock import utcnow
from shipkey.db.engine import Database
from shipkey.db.writes import rowcount
from shipkey.errors import BadRequest, Conflict, InsufficientStorage, NotFound, ShipkeyError
from shipkey.storage import Storage, StorageFull, StoredObject
from shipkey.storage.base import DISK_FULL_ERRNOS

SESSION_HOURS = 24 * 7
LEASE = timedelta(minutes=30)
_CONTENT_RANGE = re.compile(r"bytes ([0-9]{1,15})-([0-9]{1,15})/([0-9]{1,15})")
r"""ASCII digits only (``\d`` and ``int()`` take other scripts' digits too), the whole value."""


def staging_dir(data_dir: Path) -> Path:
    path = data_dir / "uploads"
    path.mkdir(parents=True, exist_ok=True)
    return path


def _part(data_dir: Path, upload_id: str) -> Path:
    return staging_dir(data_dir) / f"{upload_id}.part"


def get_upload(session: Session, upload_id: str) -> UploadSession:
    upload = session.get(UploadSession, upload_id) if len(upload_id) <= 32 else None
    if upload is None or upload.expires_at <= utcnow():
        raise NotFound(f"No upload {upload_id!r}.", "UPLOAD_NOT_FOUND")
    return upload


def open_upload(
    session: Session, data_dir: Path, ref: str, data: UploadCreate, max_bytes: int
) -> UploadSession:
    """A new upload session, or the unfinished one for the same product, size and SHA-256;
    413 ``PAYLOAD_TOO_LARGE`` for a file over ``max_bytes``."""
    catalog.check_size(data.size, max_bytes)
    product = catalog.get_product(session, ref)
    sweep_expired(session, data_dir)
    file_name = catalog.clean_file_name(data.file_name)
    mime_type = catalog.clean_mime_type(data.content_type, file_name)
    sha256 = data.sha256.lower() if data.sha256 else None
    now = utcnow()
    if sha256 is not None:
        existing = session.scalars(
            select(UploadSession)
            .where(
                UploadSession.product_id == product.id,
                UploadSession.sha256 == sha256,
                UploadSession.size == data.size,
                UploadSession.expires_at > now,
            )
            .order_by(UploadSession.received.desc())
        ).first()
        if existing is not None and _part(data_dir, existing.id).exists():
            return existing
    upload = UploadSession(
        product_id=product.id,
        file_name=file_name,
        mime_type=mime_type,
        size=data.size,
        received=0,
        sha256=sha256,
        created_at=now,
        expires_at=now + timedelta(hours=SESSION_HOURS),
    )
    session.add(upload)
    session.flush()
    _part(data_dir, upload.id).touch()
    return upload


def sweep_expired(session: Session, data_dir: Path, limit: int = 100) -> int:
    """Forget abandoned uploads and free their disk space; returns how many."""
    expired = session.scalars(
        select(UploadSession)
        .where(UploadSession.expires_at <= utcnow())
        .order_by(UploadSession.expires_at)
        .limit(limit)
    ).all()
    for upload in expired:
        session.delete(upload)
        _part(data_dir, upload.id).unlink(missing_ok=True)
    session.flush()
    return len(expired)


def parse_content_range(header: str | None, size: int) -> tuple[int, int]:
    """``bytes a-b/size`` → (a, b); 400 when absent or not describing this upload."""
    match = _CONTENT_RANGE.fullmatch(header or "")
    if match is None:
        raise BadRequest(
            "Send each chunk with Content-Range: bytes FIRST-LAST/SIZE.", "INVALID_CONTENT_RANGE"
        )
    first, last, total = (int(group) for group in match.groups())
    if total != size or last < first or last >= size:
        raise BadRequest(
            f"Content-Range {header!r} does not fit this {size}-byte upload.",
            "INVALID_CONTENT_RANGE",
        )
    return first, last


@dataclass
class ChunkResult:
    upload: UploadSession
    file: ProductFile | None


def _claim(session: Session, upload_id: str, first: int) -> UploadSession:
    """Take the upload's lease for a chunk starting at ``first`` (409 when it cannot be)."""
    now = utcnow()
    upload = get_upload(session, upload_id)
    claimed = session.execute(
        update(UploadSession)
        .where(
            UploadSession.id == upload_id,
            UploadSession.received == first,
            or_(UploadSession.locked_until.is_(None), UploadSession.locked_until < now),
        )
        .values(locked_until=now + LEASE)
        .execution_options(synchronize_session=False)
    )
    if rowcount(claimed) != 1:
        session.refresh(upload)
        if upload.received != first:
            raise Conflict(
                f"The upload has {upload.received} bytes; send the chunk that starts there.",
                "UPLOAD_OFFSET_MISMATCH",
                received=upload.received,
            )
        raise Conflict("Another chunk of this upload is being sent.", "UPLOAD_BUSY")
    session.refresh(upload)
    return upload


def _release(session: Session, upload_id: str, received: int) -> UploadSession:
    """Give the lease back with ``received`` bytes on disk."""
    session.execute(
        update(UploadSession)
        .where(UploadSession.id == upload_id)
        .values(received=received, locked_until=None)
        .execution_options(synchronize_session=False)
    )
    return get_upload(session, upload_id)


async def _append(part: Path, first: int, limit: int, chunks: AsyncIterable[bytes]) -> int:
    """Write the chunk at ``first``; returns how many bytes are safely on disk.

    A chunk the disk has no room for is dropped whole (the file is cut back to ``first``, which
    frees what it took) and answered with 507 ``INSUFFICIENT_STORAGE``: the client sends it again
    from ``received`` once there is room.
    """
    handle = await anyio.to_thread.run_sync(part.open, "r+b")
    written = 0
    try:
        await anyio.to_thread.run_sync(handle.truncate, first)
        await anyio.to_thread.run_sync(handle.seek, first)
        async for chunk in chunks:
            if written + len(chunk) > limit:
                raise BadRequest("The chunk is longer than its Content-Range.", "CHUNK_TOO_LONG")
            await _disk_write(handle.write, chunk)
            written += len(chunk)
    except ShipkeyError:
        written = 0  # a malformed chunk is dropped whole
        raise
    finally:
        with anyio.CancelScope(shield=True):
            try:
                await _disk_write(handle.flush)
                await _disk_write(os.fsync, handle.fileno())
            except InsufficientStorage:
                written = 0
                raise
            finally:
                with contextlib.suppress(OSError):  # what a full disk left in the buffer
                    await anyio.to_thread.run_sync(handle.close)
                if not written:
                    await anyio.to_thread.run_sync(os.truncate, part, first)
    return written


async def _disk_write(call: Any, *args: Any) -> Any:
    """``call(*args)`` in a thread; a full disk raised as :class:`InsufficientStorage`."""
    try:
        return await anyio.to_thread.run_sync(call, *args)
    except OSError as exc:
        if exc.errno in DISK_FULL_ERRNOS:
            raise _disk_full() from exc
        raise


def _disk_full() -> InsufficientStorage:
    return InsufficientStorage("The server's disk is full; send this chunk again later.")


async def write_chunk(
    db: Database,
    storage: Storage,
    data_dir: Path,
    upload_id: str,
    content_range: str | None,
    chunks: AsyncIterable[bytes],
    max_bytes: int,
) -> ChunkResult:
    """Store one chunk; when it completes the file, move it to storage and attach it.

    Takes the database rather than a session: the chunk arrives from the network and is written
    to disk, and the finished file is moved to storage, between short transactions (the lease
    taken, the lease given back, the file attached), so none is open while the bytes move.
    """

    def _size() -> int:
        with db.read_session() as session:
            return get_upload(session, upload_id).size

    size = await run_in_threadpool(_size)
    catalog.check_size(size, max_bytes)  # opened before SHIPKEY_MAX_UPLOAD_BYTES was lowered
    if size:
        first, last = parse_content_range(content_range, size)
    else:  # nothing to send: the (empty) request completes it; a range, if any, must be one
        if content_range is not None and _CONTENT_RANGE.fullmatch(content_range) is None:
            parse_content_range(content_range, size)
        first, last = 0, -1
    upload = await run_in_threadpool(db.run, _claim, upload_id, first)
    part = _part(data_dir, upload_id)
    written = 0
    try:
        written = await _append(part, first, last - first + 1, chunks)
    finally:
        with anyio.CancelScope(shield=True):
            upload = await run_in_threadpool(db.run, _release, upload_id, first + written)
    if upload.received < size:
        return ChunkResult(upload, None)
    try:
        return ChunkResult(upload, await run_in_threadpool(_finish, db, storage, part, upload))
    except StorageFull as exc:
        # No room for the finished file: the last chunk is given back (its bytes freed), and
        # the client sends it again once there is room.
        with anyio.CancelScope(shield=True):
            await anyio.to_thread.run_sync(os.truncate, part, first)
            await run_in_threadpool(db.run, _release, upload_id, first)
        raise _disk_full() from exc


def _finish(db: Database, storage: Storage, part: Path, upload: UploadSession) -> ProductFile:
    """Move the finished file into storage, then attach it in a short transaction (or drop the
    upload when it is not the file announced)."""
    key = catalog.new_file_key(upload.product_id)
    stored = storage.save_file(key, part)
    if upload.sha256 is not None and stored.sha256 != upload.sha256:
        storage.delete(key)
        db.run(_drop, upload.id)
        part.unlink(missing_ok=True)
        raise ShipkeyError(
            "The file that arrived does not have the announced SHA-256; upload it again.",
            "CHECKSUM_MISMATCH",
            status_code=422,
            expected=upload.sha256,
            actual=stored.sha256,
        )
    try:
        replaced = db.run(_attach, upload, stored)
    except BaseException:
        storage.delete(key)
        raise
    part.unlink(missing_ok=True)
    if replaced is not None and replaced != key:
        storage.delete(replaced)
    return ProductFile(
        file_name=upload.file_name,
        file_size=stored.size,
        file_mime_type=upload.mime_type,
        sha256=stored.sha256,
    )


def _drop(session: Session, upload_id: str) -> None:
    session.delete(get_upload(session, upload_id))
    session.flush()


def _attach(session: Session, upload: UploadSession, stored: StoredObject) -> str | None:
    """Attach the stored file to the upload's product and end the upload; the key of the file
    it replaced, if any."""
    product = catalog.get_product(session, upload.product_id)
    replaced = catalog.attach_file(session, product, stored, upload.file_name, upload.mime_type)
    _drop(session, upload.id)
    return replaced


def cancel_upload(session: Session, data_dir: Path, upload_id: str) -> None:
    upload = get_upload(session, upload_id)
    session.delete(upload)
    session.flush()
    with contextlib.suppress(FileNotFoundError):
        _part(data_dir, upload_id).unlink()
