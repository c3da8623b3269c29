"""Product files on the local disk, under one root directory."""

from __future__ import annotations

import contextlib
import hashlib
import os
import secrets
import stat
from collections.abc import AsyncIterable, AsyncIterator
from pathlib import Path
from typing import BinaryIO

import anyio.to_thread

from shipkey.storage.base import (
    DEFAULT_CHUNK_SIZE,
    DISK_FULL_ERRNOS,
    InvalidKey,
    ObjectHead,
    ObjectNotFound,
    Storage,
    StorageError,
    StorageFull,
    StoredObject,
    validate_key,
)

TEMP_DIR_NAME = ".tmp"
"""Directory under the root where objects are written before they are moved into place."""


class _PendingObject:
    """A temporary file being written, hashed on the way, then moved into place or removed.

    Every method is blocking; :class:`LocalStorage` calls them from a worker thread when it
    runs on the event loop. ``discard`` only does quick system calls, so it can run anywhere,
    including while a task is being cancelled.
    """

    def __init__(self, temp_dir: Path) -> None:
        self._hasher = hashlib.sha256()
        self._size = 0
        self.path = temp_dir / f"{secrets.token_hex(16)}.part"
        # O_EXCL: never write through a file or link that someone else put there.
        flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0)
        self._fd: int | None = os.open(self.path, flags, 0o666)

    def write(self, data: bytes | bytearray | memoryview) -> None:
        """Append ``data`` to the file and to the running hash."""
        fd = self._require_fd()
        self._hasher.update(data)
        view = memoryview(data)
        while view:
            written = os.write(fd, view)
            view = view[written:]
        self._size += len(data)

    def commit(self, key: str, target: Path) -> StoredObject:
        """Flush the file to disk and atomically move it to ``target``."""
        fd = self._require_fd()
        os.fsync(fd)
        os.close(fd)
        self._fd = None
        target.parent.mkdir(parents=True, exist_ok=True)
        os.replace(self.path, target)
        _fsync_directory(target.parent)
        return StoredObject(key=key, size=self._size, sha256=self._hasher.hexdigest())

    def discard(self) -> None:
        """Close and remove the temporary file; safe to call more than once."""
        if self._fd is not None:
            fd, self._fd = self._fd, None
            with contextlib.suppress(OSError):
                os.close(fd)
        with contextlib.suppress(FileNotFoundError):
            self.path.unlink()

    def _require_fd(self) -> int:
        if self._fd is None:
            raise StorageError("the temporary file is already closed")
        return self._fd


def _raise_if_full(exc: BaseException, key: str) -> None:
    """A full disk as :class:`StorageFull` (the partial file is already removed)."""
    if isinstance(exc, OSError) and exc.errno in DISK_FULL_ERRNOS:
        raise StorageFull(f"no room on the disk for {key!r}") from exc


def _fsync_directory(directory: Path) -> None:
    """Make a rename in ``directory`` durable, where the platform allows it."""
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        with contextlib.suppress(OSError):
            os.fsync(fd)
    finally:
        os.close(fd)


async def _write_stream(pending: _PendingObject, chunks: AsyncIterable[bytes]) -> None:
    """Write ``chunks`` from a worker thread, about one :data:`DEFAULT_CHUNK_SIZE` per hop."""
    buffer = bytearray()
    async for chunk in chunks:
        if len(chunk) >= DEFAULT_CHUNK_SIZE:
            # Large enough on its own: written as it is, without copying it.
            if buffer:
                await anyio.to_thread.run_sync(pending.write, buffer)
                buffer.clear()
            await anyio.to_thread.run_sync(pending.write, chunk)
            continue
        buffer += chunk
        if len(buffer) >= DEFAULT_CHUNK_SIZE:
            await anyio.to_thread.run_sync(pending.write, buffer)
            buffer.clear()
    if buffer:
        await anyio.to_thread.run_sync(pending.write, buffer)


class LocalStorage(Storage):
    """Objects stored as files under ``root``, written to ``root/.tmp/`` then renamed.

    ``root`` is created when missing. Keys map to paths under the root; a key whose path would
    leave the root, for instance through a symbolic link, is refused with :class:`InvalidKey`.
    """

    def __init__(self, root: Path) -> None:
        try:
            root = Path(root).expanduser()
            root.mkdir(parents=True, exist_ok=True)
            self.root = root.resolve(strict=True)
            self._temp_dir = self.root / TEMP_DIR_NAME
            self._temp_dir.mkdir(exist_ok=True)
        except (OSError, ValueError) as exc:  # ValueError: a NUL in the path
            raise StorageError(f"cannot use {str(root)!r} as the storage root: {exc}") from exc

    def __repr__(self) -> str:
        return f"LocalStorage({str(self.root)!r})"

    # --- keys and paths ---------------------------------------------------------------------

    def _path(self, key: str) -> Path:
        """Return where ``key`` lives, after checking that it cannot escape the root."""
        validate_key(key)
        if key.split("/", 1)[0] == TEMP_DIR_NAME:
            raise InvalidKey(f"storage keys may not start with {TEMP_DIR_NAME}/")
        path = self.root / key
        try:
            # Follows every symbolic link that exists on the way, the last component included.
            resolved = path.resolve()
        except (OSError, RuntimeError) as exc:  # RuntimeError: a symlink loop (Python < 3.13)
            raise InvalidKey(f"storage key {key!r} cannot be resolved: {exc}") from exc
        if not resolved.is_relative_to(self.root):
            raise InvalidKey(f"storage key {key!r} leads outside the storage root")
        return path

    def _stat_file(self, key: str) -> tuple[Path, os.stat_result]:
        path = self._path(key)
        try:
            info = path.stat()
        except (FileNotFoundError, NotADirectoryError):
            raise ObjectNotFound(key) from None
        if not stat.S_ISREG(info.st_mode):
            raise ObjectNotFound(key)
        return path, info

    def _open(self, key: str) -> BinaryIO:
        path = self._path(key)
        try:
            handle = path.open("rb")
        except (FileNotFoundError, NotADirectoryError, IsADirectoryError):
            raise ObjectNotFound(key) from None
        if not stat.S_ISREG(os.fstat(handle.fileno()).st_mode):
            handle.close()
            raise ObjectNotFound(key)
        return handle

    # --- writing ------------------------------------------------------------------------------

    def _begin(self, key: str) -> tuple[Path, _PendingObject]:
        return self._path(key), _PendingObject(self._temp_dir)

    async def save(self, key: str, chunks: AsyncIterable[bytes]) -> StoredObject:
        target, pending = await anyio.to_thread.run_sync(self._begin, key)
        try:
            await _write_stream(pending, chunks)
            return await anyio.to_thread.run_sync(pending.commit, key, target)
        except BaseException as exc:
            # Synchronous on purpose: a cancelled task cannot await a worker thread any more.
            pending.discard()
            _raise_if_full(exc, key)
            raise

    def save_file(self, key: str, source: Path) -> StoredObject:
        target = self._path(key)
        with Path(source).open("rb") as handle:
            pending = _PendingObject(self._temp_dir)
            try:
                while block := handle.read(DEFAULT_CHUNK_SIZE):
                    pending.write(block)
                return pending.commit(key, target)
            except BaseException as exc:
                pending.discard()
                _raise_if_full(exc, key)
                raise

    def delete(self, key: str) -> None:
        path = self._path(key)
        # A folder is not an object either: nothing to delete.
        with contextlib.suppress(FileNotFoundError, NotADirectoryError, IsADirectoryError):
            path.unlink()

    # --- reading ------------------------------------------------------------------------------

    async def iter_bytes(
        self,
        key: str,
        start: int = 0,
        end: int | None = None,
        chunk_size: int = DEFAULT_CHUNK_SIZE,
    ) -> AsyncIterator[bytes]:
        if start < 0 or (end is not None and end < start) or chunk_size <= 0:
            raise ValueError(f"invalid byte range {start}-{end} or chunk size {chunk_size}")
        handle = await anyio.to_thread.run_sync(self._open, key)
        try:
            if start:
                await anyio.to_thread.run_sync(handle.seek, start)
            remaining = None if end is None else end - start + 1
            while remaining is None or remaining > 0:
                want = chunk_size if remaining is None else min(chunk_size, remaining)
                block = await anyio.to_thread.run_sync(handle.read, want)
                if not block:
                    return
                if remaining is not None:
                    remaining -= len(block)
                yield block
        finally:
            # Closing is a quick system call, and must also happen when the consumer is
            # cancelled (a client that goes away), where awaiting a thread is no longer possible.
            handle.close()

    def size(self, key: str) -> int:
        return self._stat_file(key)[1].st_size

    def exists(self, key: str) -> bool:
        try:
            self._stat_file(key)
        except ObjectNotFound:
            return False
        return True

    def local_path(self, key: str) -> Path:
        """Return the file's path; raise :class:`ObjectNotFound` when nothing is stored there."""
        return self._stat_file(key)[0]

    def hash(self, key: str) -> StoredObject:
        with self._open(key) as handle:
            hasher = hashlib.sha256()
            size = 0
            while block := handle.read(DEFAULT_CHUNK_SIZE):
                hasher.update(block)
                size += len(block)
        return StoredObject(key=key, size=size, sha256=hasher.hexdigest())

    def head(self, key: str) -> ObjectHead | None:
        try:
            return ObjectHead(size=self._stat_file(key)[1].st_size)
        except ObjectNotFound:
            return None

    def fetch_file(self, key: str, target: Path) -> None:
        with self._open(key) as handle, Path(target).open("wb") as out:
            while block := handle.read(DEFAULT_CHUNK_SIZE):
                out.write(block)
