"""Where product files live: the local disk, or an S3-compatible object store.

``storage_for(settings)`` gives the backend named by ``SHIPKEY_STORAGE_URL`` (and
``SHIPKEY_S3_ENDPOINT_URL``); everything else talks to the :class:`Storage` interface.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import unquote, urlsplit

from shipkey.storage.base import (
    InvalidKey,
    ObjectHead,
    ObjectNotFound,
    Storage,
    StorageError,
    StorageFull,
    StoredObject,
    validate_key,
)
from shipkey.storage.local import LocalStorage

if TYPE_CHECKING:
    from shipkey.config import Settings

__all__ = [
    "InvalidKey",
    "LocalStorage",
    "ObjectHead",
    "ObjectNotFound",
    "Storage",
    "StorageError",
    "StorageFull",
    "StoredObject",
    "open_storage",
    "storage_for",
    "validate_key",
]


def storage_for(settings: Settings) -> Storage:
    """The backend the settings name (``SHIPKEY_STORAGE_URL``, ``SHIPKEY_S3_ENDPOINT_URL``)."""
    return open_storage(settings.resolved_storage_url, s3_endpoint_url=settings.s3_endpoint_url)


def open_storage(url: str, *, s3_endpoint_url: str | None = None) -> Storage:
    """Return the backend for a storage URL.

    - ``file:///absolute/path`` (or ``file://localhost/…``): :class:`LocalStorage` there.
      ``file:relative/path`` and ``file://./relative/path`` are taken relative to the working
      directory. The directory is created when missing.
    - ``s3://bucket/prefix``: :class:`~shipkey.storage.s3.S3Storage` in that bucket, under
      that prefix, through ``s3_endpoint_url`` when given (R2, MinIO, …).

    Anything else raises :class:`StorageError`.
    """
    parts = urlsplit(url.strip())
    scheme = parts.scheme.lower()
    if scheme == "file":
        return LocalStorage(_file_url_path(url, parts.netloc, parts.path))
    if scheme == "s3":
        from shipkey.storage.s3 import S3Storage, make_client

        return S3Storage(parts.netloc, unquote(parts.path), client=make_client(s3_endpoint_url))
    raise StorageError(
        f"unsupported storage URL {url!r}: use file:///absolute/path (or s3://bucket/prefix)"
    )


def _file_url_path(url: str, netloc: str, path: str) -> Path:
    if netloc in {"", "localhost"}:
        raw = path
    elif netloc in {".", ".."}:
        raw = netloc + path
    else:
        raise StorageError(f"storage URL {url!r} names a remote host; file URLs must be local")
    if not raw:
        raise StorageError(f"storage URL {url!r} has no path")
    return Path(unquote(raw))
