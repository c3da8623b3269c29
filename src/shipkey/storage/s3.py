"""Product files in an S3 bucket, or any S3-compatible store (R2, MinIO, Backblaze B2, …).

Uploads are streamed as multipart uploads: parts of :data:`PART_SIZE` bytes are sent as they
fill, the SHA-256 is computed on the way, and nothing is visible under the key until the upload
is completed (an aborted or failed upload is aborted at S3 too). Memory stays at about one part,
whatever the size of the file. Reads are ranged ``GetObject`` calls, streamed in chunks.

Credentials and region come from the standard ``AWS_*`` variables (or any source boto3 reads);
``SHIPKEY_S3_ENDPOINT_URL`` points the client at another S3-compatible service, with path-style
addressing, which every such service understands.
"""

from __future__ import annotations

import contextlib
import hashlib
from collections.abc import AsyncIterable, AsyncIterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import anyio
import anyio.to_thread
import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from shipkey.storage.base import (
    DEFAULT_CHUNK_SIZE,
    ObjectHead,
    ObjectNotFound,
    Storage,
    StorageError,
    StoredObject,
    validate_key,
)

if TYPE_CHECKING:
    from mypy_boto3_s3.client import S3Client
    from mypy_boto3_s3.type_defs import CompletedPartTypeDef

PART_SIZE = 8 * 1024 * 1024
"""The size of the first 1,000 parts of a multipart upload; S3 wants at least 5 MiB."""

PARTS_PER_STEP = 1000
"""After this many parts the part size doubles, so S3's 10,000-part limit is never reached."""

_MISSING_CODES = frozenset({"404", "NoSuchKey", "NotFound"})


def _is_missing(exc: ClientError) -> bool:
    return str(exc.response.get("Error", {}).get("Code", "")) in _MISSING_CODES


def make_client(endpoint_url: str | None = None) -> S3Client:
    """An S3 client from the standard AWS configuration, aimed at ``endpoint_url`` if given."""
    config = Config(
        signature_version="s3v4",
        s3={"addressing_style": "path" if endpoint_url else "auto"},
        retries={"mode": "standard", "max_attempts": 5},
        # Completing a multipart upload of many gigabytes can take minutes at S3.
        connect_timeout=10,
        read_timeout=600,
        # Only the checksums S3 requires: several S3-compatible services refuse the others.
        request_checksum_calculation="when_required",
        response_checksum_validation="when_required",
    )
    client: S3Client = boto3.session.Session().client(
        "s3", endpoint_url=endpoint_url or None, config=config
    )
    return client


class _MultipartWriter:
    """One object being written: hashed, buffered to a part, sent part by part.

    Every method is blocking; :class:`S3Storage` calls them from a worker thread on the event
    loop. A file smaller than one part is sent with a single ``PutObject``.
    """

    def __init__(self, client: S3Client, bucket: str, object_key: str, content_type: str) -> None:
        self._client = client
        self._bucket = bucket
        self._object_key = object_key
        self._content_type = content_type
        self._hasher = hashlib.sha256()
        self._size = 0
        self._buffer = bytearray()
        self._upload_id: str | None = None
        self._parts: list[CompletedPartTypeDef] = []

    def _part_size(self) -> int:
        size: int = PART_SIZE << (len(self._parts) // PARTS_PER_STEP)
        return size

    def write(self, data: bytes | bytearray | memoryview) -> None:
        self._hasher.update(data)
        self._size += len(data)
        self._buffer += data
        while len(self._buffer) >= self._part_size():
            size = self._part_size()
            part = bytes(memoryview(self._buffer)[:size])
            del self._buffer[:size]
            self._send_part(part)

    def _send_part(self, body: bytes) -> None:
        if self._upload_id is None:
            created = self._client.create_multipart_upload(
                Bucket=self._bucket, Key=self._object_key, ContentType=self._content_type
            )
            self._upload_id = created["UploadId"]
        number = len(self._parts) + 1
        answer = self._client.upload_part(
            Bucket=self._bucket,
            Key=self._object_key,
            UploadId=self._upload_id,
            PartNumber=number,
            Body=body,
        )
        self._parts.append({"ETag": answer["ETag"], "PartNumber": number})

    def commit(self, key: str) -> StoredObject:
        if self._upload_id is None:
            self._client.put_object(
                Bucket=self._bucket,
                Key=self._object_key,
                Body=bytes(self._buffer),
                ContentType=self._content_type,
            )
        else:
            if self._buffer:
                self._send_part(bytes(self._buffer))
            self._client.complete_multipart_upload(
                Bucket=self._bucket,
                Key=self._object_key,
                UploadId=self._upload_id,
                MultipartUpload={"Parts": self._parts},
            )
        self._buffer.clear()
        return StoredObject(key=key, size=self._size, sha256=self._hasher.hexdigest())

    def abort(self) -> None:
        """Give up: the parts sent so far are dropped at S3. Safe to call more than once."""
        self._buffer.clear()
        upload_id, self._upload_id = self._upload_id, None
        if upload_id is not None:
            # On failure, a bucket lifecycle rule for incomplete uploads cleans up what is left.
            with contextlib.suppress(ClientError, BotoCoreError):
                self._client.abort_multipart_upload(
                    Bucket=self._bucket, Key=self._object_key, UploadId=upload_id
                )


class S3Storage(Storage):
    """Objects stored in ``bucket`` under ``prefix/`` (no prefix: at the bucket's root)."""

    def __init__(self, bucket: str, prefix: str = "", *, client: S3Client | None = None) -> None:
        if not bucket:
            raise StorageError("an S3 storage URL needs a bucket: s3://bucket/prefix")
        self.bucket = bucket
        self.prefix = prefix.strip("/")
        if self.prefix:
            validate_key(self.prefix)
        self.client = client or make_client()

    def __repr__(self) -> str:
        return f"S3Storage(s3://{self.bucket}/{self.prefix})"

    def _object_key(self, key: str) -> str:
        validate_key(key)
        return f"{self.prefix}/{key}" if self.prefix else key

    def _call(self, key: str, operation: str, **params: Any) -> Any:
        try:
            return getattr(self.client, operation)(**params)
        except ClientError as exc:
            if _is_missing(exc):
                raise ObjectNotFound(key) from None
            raise StorageError(f"S3 {operation} on {key!r} failed: {exc}") from exc
        except BotoCoreError as exc:
            raise StorageError(f"S3 {operation} on {key!r} failed: {exc}") from exc

    # --- writing ------------------------------------------------------------------------------

    def _writer(self, key: str) -> _MultipartWriter:
        return _MultipartWriter(
            self.client, self.bucket, self._object_key(key), "application/octet-stream"
        )

    async def save(self, key: str, chunks: AsyncIterable[bytes]) -> StoredObject:
        writer = self._writer(key)
        try:
            buffer = bytearray()
            async for chunk in chunks:
                buffer += chunk
                if len(buffer) >= DEFAULT_CHUNK_SIZE:
                    await anyio.to_thread.run_sync(writer.write, buffer)
                    buffer = bytearray()
            if buffer:
                await anyio.to_thread.run_sync(writer.write, buffer)
            return await anyio.to_thread.run_sync(writer.commit, key)
        except BaseException as exc:
            with anyio.CancelScope(shield=True):
                await anyio.to_thread.run_sync(writer.abort)
            if isinstance(exc, ClientError | BotoCoreError):
                raise StorageError(f"S3 upload of {key!r} failed: {exc}") from exc
            raise

    def save_file(self, key: str, source: Path) -> StoredObject:
        writer = self._writer(key)
        try:
            with Path(source).open("rb") as handle:
                while block := handle.read(DEFAULT_CHUNK_SIZE):
                    writer.write(block)
            return writer.commit(key)
        except BaseException as exc:
            writer.abort()
            if isinstance(exc, ClientError | BotoCoreError):
                raise StorageError(f"S3 upload of {key!r} failed: {exc}") from exc
            raise

    def delete(self, key: str) -> None:
        self._call(key, "delete_object", Bucket=self.bucket, Key=self._object_key(key))

    # --- reading ------------------------------------------------------------------------------

    def _get(self, key: str, start: int = 0, end: int | None = None) -> Any:
        params: dict[str, Any] = {"Bucket": self.bucket, "Key": self._object_key(key)}
        if start or end is not None:
            params["Range"] = f"bytes={start}-{'' if end is None else end}"
        return self._call(key, "get_object", **params)["Body"]

    async def iter_bytes(
        self,
        key: str,
        start: int = 0,
        end: int | None = None,
        chunk_size: int = DEFAULT_CHUNK_SIZE,
    ) -> AsyncIterator[bytes]:
        if start < 0 or (end is not None and end < start) or chunk_size <= 0:
            raise ValueError(f"invalid byte range {start}-{end} or chunk size {chunk_size}")
        body = await anyio.to_thread.run_sync(self._get, key, start, end)
        try:
            while True:
                try:
                    block: bytes = await anyio.to_thread.run_sync(body.read, chunk_size)
                except (BotoCoreError, OSError) as exc:
                    raise StorageError(f"reading {key!r} from S3 failed: {exc}") from exc
                if not block:
                    return
                yield block
        finally:
            body.close()

    def head(self, key: str) -> ObjectHead | None:
        try:
            answer = self._call(key, "head_object", Bucket=self.bucket, Key=self._object_key(key))
        except ObjectNotFound:
            return None
        return ObjectHead(size=int(answer["ContentLength"]), etag=answer.get("ETag"))

    def size(self, key: str) -> int:
        head = self.head(key)
        if head is None:
            raise ObjectNotFound(key)
        return head.size

    def exists(self, key: str) -> bool:
        return self.head(key) is not None

    def local_path(self, key: str) -> Path | None:
        return None

    def hash(self, key: str) -> StoredObject:
        body = self._get(key)
        hasher = hashlib.sha256()
        size = 0
        try:
            while block := body.read(DEFAULT_CHUNK_SIZE):
                hasher.update(block)
                size += len(block)
        finally:
            body.close()
        return StoredObject(key=key, size=size, sha256=hasher.hexdigest())

    def fetch_file(self, key: str, target: Path) -> None:
        body = self._get(key)
        try:
            with Path(target).open("wb") as out:
                while block := body.read(DEFAULT_CHUNK_SIZE):
                    out.write(block)
        finally:
            body.close()

    def presigned_get(
        self, key: str, *, filename_header: str, content_type: str, expires_in: int
    ) -> str:
        url: str = self.client.generate_presigned_url(
            "get_object",
            Params={
                "Bucket": self.bucket,
                "Key": self._object_key(key),
                "ResponseContentDisposition": filename_header,
                "ResponseContentType": content_type,
                "ResponseCacheControl": "no-store",
            },
            ExpiresIn=expires_in,
        )
        return url
