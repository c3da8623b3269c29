"""Publishing releases and their artifacts, yanking, and what a license is offered.

Functions that take a ``Session`` run in the caller's transaction (they flush, never commit).
:func:`upload_artifact` takes the :class:`Database`: no transaction may be held while the bytes
arrive, so it looks the release up in a short read, stores and signs the file, and only then
records it in one short unit of work (the stored file is deleted if that fails).
"""

from __future__ import annotations

import base64
import mmap
import os
import re
import secrets
import tempfile
from collections.abc import AsyncIterable, AsyncIterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import quote

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

from shipkey import hooks
from shipkey.catalog import service as catalog
from shipkey.catalog.models import Product
from shipkey.clock import utcnow
from shipkey.db.engine import Database
from shipkey.downloads.serving import FileRef, RangeRequest, ServePlan, effective_range
from shipkey.downloads.signed import check_signature, sign
from shipkey.errors import BadRequest, Conflict, Forbidden, Gone, NotFound, Unauthorized
from shipkey.http.files import none_match
from shipkey.licensing import validation
from shipkey.licensing.keys import KeySecret
from shipkey.licensing.models import License, LicenseStatus
from shipkey.licensing.signing_keys import SigningKeyStore
from shipkey.releases.catalog import FileFacts, ReleaseFacts
from shipkey.releases.models import Artifact, Channel, Release
from shipkey.releases.schemas import PLATFORM_PATTERN, ReleaseCreate, ReleaseRead
from shipkey.releases.versions import Holder, may_get, normalize, parse_version
from shipkey.storage import Storage

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

ANY = "any"
"""The platform or architecture of a file that runs everywhere."""


# --- the seller's side --------------------------------------------------------------------


def create_release(session: Session, product: Product, data: ReleaseCreate) -> Release:
    """A new published release; 409 ``RELEASE_EXISTS`` when the product has that version.

    The seller's systems hear of it (``release.published``, the release as the admin API shows
    it) in the same transaction."""
    normalized = normalize(data.version)
    if _find(session, product.id, normalized) is not None:
        raise _exists(data.version)
    release = Release(
        product_id=product.id,
        version=data.version.strip(),
        normalized=normalized,
        channel=data.channel.value,
        notes=data.notes,
        published_at=utcnow(),
    )
    session.add(release)
    try:
        with session.begin_nested():
            session.flush()
    except IntegrityError:  # published at the same moment by another request
        raise _exists(data.version) from None
    session.refresh(release)
    shown = ReleaseRead.model_validate(release).model_dump(mode="json", by_alias=True)
    hooks.emit(session, "release.published", shown)
    return release


def _exists(version: str) -> Conflict:
    return Conflict(f"Version {version} of this product already exists.", "RELEASE_EXISTS")


def _find(session: Session, product_id: str, normalized: str) -> Release | None:
    return session.scalars(
        select(Release).where(Release.product_id == product_id, Release.normalized == normalized)
    ).first()


def list_releases(session: Session, product_id: str) -> list[Release]:
    """Every release of a product, the newest version first."""
    releases = session.scalars(select(Release).where(Release.product_id == product_id)).all()
    return sorted(releases, key=lambda r: parse_version(r.normalized), reverse=True)


def get_release(session: Session, release_id: str) -> Release:
    release = session.get(Release, release_id)
    if release is None:
        raise NotFound("This release does not exist.", "RELEASE_NOT_FOUND")
    return release


def yank(session: Session, release: Release, reason: str | None) -> Release:
    """Withdraw a release: no license is offered it any more (repeatable)."""
    if release.yanked_at is None:
        release.yanked_at = utcnow()
    release.yank_reason = reason or release.yank_reason
    session.flush()
    return release


def clean_platform(value: str | None) -> str:
    """A platform or architecture in lower case; ``any`` when not given."""
    text = (value or ANY).strip().lower()
    if re.fullmatch(PLATFORM_PATTERN.strip("^$"), text) is None:
        raise BadRequest(
            "A platform or architecture is 1-32 letters, digits or _.", "INVALID_PLATFORM"
        )
    return text


async def upload_artifact(
    db: Database,
    storage: Storage,
    signing_keys: SigningKeyStore,
    release_id: str,
    raw_file_name: str | None,
    platform: str | None,
    arch: str | None,
    content_type: str | None,
    chunks: AsyncIterable[bytes],
    *,
    content_length: str | None = None,
    max_bytes: int,
) -> Artifact:
    """Stream a file into storage, sign it, and attach it to the release.

    409 ``ARTIFACT_EXISTS`` when the release already has a file of that name (a published
    file never changes under its buyers' feet); 413 as for product files.
    """
    catalog.check_size(catalog.declared_length(content_length), max_bytes)
    file_name = catalog.clean_file_name(raw_file_name)
    mime_type = catalog.clean_mime_type(content_type, file_name)
    platform, arch = clean_platform(platform), clean_platform(arch)

    def _lookup() -> str:
        with db.read_session() as session:
            release = get_release(session, release_id)
            _ensure_new_name(release, file_name)
            return release.product_id

    product_id = await run_in_threadpool(_lookup)
    key = f"releases/{product_id}/{secrets.token_hex(16)}"
    stored = await storage.save(key, _capped(chunks, max_bytes))
    try:
        signer = signing_keys.current()
        signature = await run_in_threadpool(sign_stored, storage, key, signer.private_key)

        def _attach() -> str:
            with db.session() as session:
                release = get_release(session, release_id)
                facts = _StoredFile(key, file_name, mime_type, stored.size, stored.sha256)
                return _add_artifact(session, release, facts, platform, arch, signature, signer.kid)

        artifact_id = await run_in_threadpool(_attach)
    except BaseException:
        await run_in_threadpool(storage.delete, key)
        raise

    def _reread() -> Artifact:
        with db.read_session() as session:
            artifact = session.get(Artifact, artifact_id)
            assert artifact is not None  # noqa: S101 - committed just before
            session.expunge(artifact)
            return artifact

    return await run_in_threadpool(_reread)


@dataclass(frozen=True)
class _StoredFile:
    key: str
    file_name: str
    mime_type: str
    size: int
    sha256: str


def _add_artifact(
    session: Session,
    release: Release,
    stored: _StoredFile,
    platform: str,
    arch: str,
    signature: bytes,
    kid: str,
) -> str:
    """The release's new file row (flushed); 409 ``ARTIFACT_EXISTS`` for a name it has."""
    _ensure_new_name(release, stored.file_name)
    artifact = Artifact(
        release_id=release.id,
        file_name=stored.file_name,
        file_key=stored.key,
        mime_type=stored.mime_type,
        size=stored.size,
        sha256=stored.sha256,
        platform=platform,
        arch=arch,
        signature=base64.b64encode(signature).decode("ascii"),
        kid=kid,
        uploaded_at=utcnow(),
    )
    session.add(artifact)
    try:
        with session.begin_nested():
            session.flush()
    except IntegrityError:
        raise _artifact_exists(stored.file_name) from None
    return artifact.id


def attach_file(
    session: Session,
    storage: Storage,
    signing_keys: SigningKeyStore,
    release: Release,
    source: Path,
    file_name: str,
    *,
    platform: str | None = None,
    arch: str | None = None,
) -> str:
    """Store, sign and attach a file already on this machine, in the caller's transaction
    (the demo store; the API streams with :func:`upload_artifact`). A failed attach removes
    the stored copy."""
    name = catalog.clean_file_name(file_name)
    mime_type = catalog.clean_mime_type(None, name)
    key = f"releases/{release.product_id}/{secrets.token_hex(16)}"
    stored = storage.save_file(key, source)
    try:
        signer = signing_keys.current()
        signature = sign_stored(storage, key, signer.private_key)
        facts = _StoredFile(key, name, mime_type, stored.size, stored.sha256)
        return _add_artifact(
            session,
            release,
            facts,
            clean_platform(platform),
            clean_platform(arch),
            signature,
            signer.kid,
        )
    except BaseException:
        storage.delete(key)
        raise


def _ensure_new_name(release: Release, file_name: str) -> None:
    if any(a.file_name == file_name for a in release.artifacts):
        raise _artifact_exists(file_name)


def _artifact_exists(file_name: str) -> Conflict:
    return Conflict(f"This release already has a file {file_name}.", "ARTIFACT_EXISTS")


def sign_stored(storage: Storage, key: str, private_key: Ed25519PrivateKey) -> bytes:
    """Ed25519 over a stored file's bytes, without reading them onto the heap: Ed25519 signs
    the whole message at once, so the file is mapped into memory (the page cache holds it, and
    gives it back under pressure); a file in S3 is first copied to a temporary file."""
    path = storage.local_path(key)
    if path is not None:
        return _sign_file(path, private_key)
    with tempfile.TemporaryDirectory(prefix="shipkey-sign-") as folder:
        copy = Path(folder) / "file"
        storage.fetch_file(key, copy)
        return _sign_file(copy, private_key)


def _sign_file(path: Path, private_key: Ed25519PrivateKey) -> bytes:
    with path.open("rb") as file:
        if os.fstat(file.fileno()).st_size == 0:
            return private_key.sign(b"")
        with (
            mmap.mmap(file.fileno(), 0, access=mmap.ACCESS_READ) as mapped,
            memoryview(mapped) as view,
        ):
            return private_key.sign(view)


async def _capped(chunks: AsyncIterable[bytes], max_bytes: int) -> AsyncIterator[bytes]:
    seen = 0
    async for chunk in chunks:
        seen += len(chunk)
        catalog.check_size(seen, max_bytes)
        yield chunk


# --- the buyer's side ---------------------------------------------------------------------


async def holder_of(db: Database, secret: KeySecret, product_slug: str, raw_key: str) -> Holder:
    """What the rule needs to know of a key of ``product_slug``, checked as a validation is.

    401 with the validation code for a key that is malformed or unknown; 403 for a key of
    another product, a suspended or a revoked one.
    """
    result = await validation.validate(db, secret, raw_key, product=product_slug)
    if result.code in ("INVALID_FORMAT", "NOT_FOUND"):
        raise Unauthorized("This license key is not valid.", result.code)
    if result.code == "PRODUCT_MISMATCH":
        raise Forbidden("This license key is for another product.", result.code)
    lic = result.license
    assert lic is not None  # noqa: S101 - every other code carries the license
    status = lic.effective_status(result.now)
    if status in (LicenseStatus.SUSPENDED, LicenseStatus.REVOKED):
        word = "suspended" if status is LicenseStatus.SUSPENDED else "revoked"
        raise Forbidden(f"This license is {word}.", result.code)
    return Holder(status=status, ends_at=lic.expires_at)


def offered(
    session: Session, product_slug: str, holder: Holder, wanted: Channel, *, with_yanked: bool
) -> list[Release]:
    """The releases a license may download, newest version first; with ``with_yanked``, the
    yanked ones it would otherwise get too (the package index lists them, flagged)."""
    releases = session.scalars(
        select(Release)
        .join(Product, Product.id == Release.product_id)
        .where(Product.slug == product_slug)
    ).all()
    chosen = [
        r
        for r in releases
        if may_get(
            holder,
            wanted,
            Channel(r.channel),
            r.published_at,
            yanked=r.yanked and not with_yanked,
        )
    ]
    return sorted(chosen, key=lambda r: parse_version(r.normalized), reverse=True)


def artifact_url(
    secret: bytes,
    base_url: str,
    artifact: Artifact | FileFacts,
    seconds: int,
    now: datetime | None = None,
) -> str:
    """A short-lived link to an artifact (an HMAC of its key and the expiry)."""
    expires_at = (now or utcnow()).replace(microsecond=0) + timedelta(seconds=seconds)
    expires, sig = sign(secret, artifact.file_key, expires_at)
    name = quote(artifact.file_name)
    return f"{base_url}/api/releases/files/{artifact.id}/{name}?expires={expires}&sig={sig}"


def fits(file: Artifact | FileFacts, platform: str, arch: str) -> bool:
    """Whether a file is for this platform and architecture (``any`` fits all)."""
    return file.platform in (ANY, platform) and file.arch in (ANY, arch)


def pick_update(
    releases: tuple[ReleaseFacts, ...], holder: Holder, wanted: Channel, platform: str, arch: str
) -> tuple[ReleaseFacts, list[FileFacts]] | None:
    """The newest release the license may get that has a file for this platform (a release
    still without files is not offered), and those files."""
    for release in releases:
        if not may_get(holder, wanted, release.channel, release.published_at, release.yanked):
            continue
        files = [f for f in release.files if fits(f, platform, arch)]
        if files:
            return release, files
    return None


def open_artifact(
    session: Session, secret: bytes, artifact_id: str, expires: str | None, sig: str | None
) -> Artifact:
    """The artifact a signed link names: 403 ``INVALID_SIGNATURE``, 410 ``LINK_EXPIRED``,
    404 ``FILE_NOT_FOUND``."""
    artifact = session.get(Artifact, artifact_id)
    if artifact is None:
        raise NotFound("This file does not exist.", "FILE_NOT_FOUND")
    check_signature(secret, artifact.file_key, expires, sig, utcnow())
    ensure_not_yanked(artifact)
    return artifact


def ensure_not_yanked(artifact: Artifact) -> None:
    """410 ``RELEASE_YANKED``: a yanked release's files are not served at all, not even to a
    pinned ``pip install name==version`` (the index still lists them, flagged, so pip can say
    why it passed them over)."""
    if artifact.release.yanked:
        raise Gone("This release was withdrawn by the seller.", "RELEASE_YANKED")


def serve_plan(storage: Storage, artifact: Artifact, request: RangeRequest) -> ServePlan:
    """What a request for an artifact gets, in the terms of the download machinery (every
    mode: stream, redirect, x-accel; Range, If-Range, If-None-Match)."""
    file = FileRef(
        key=artifact.file_key,
        name=artifact.file_name,
        mime_type=artifact.mime_type,
        size=artifact.size,
        sha256=artifact.sha256,
        uploaded_at=artifact.uploaded_at,
    )
    stored = storage.head(file.key)
    if stored is None:
        raise NotFound("The file is missing from storage.", "FILE_MISSING")
    if none_match(request.if_none_match, file.etag):
        return ServePlan(file, None, counted=False, not_modified=True)
    byte_range = effective_range(file, request, stored.etag)
    counted = byte_range is None or byte_range.start == 0
    return ServePlan(file, byte_range, counted=counted)


def count_download(session: Session, artifact_id: str) -> None:
    session.execute(
        update(Artifact)
        .where(Artifact.id == artifact_id)
        .values(download_count=Artifact.download_count + 1)
        .execution_options(synchronize_session=False)
    )


def offered_artifact(
    session: Session, product_slug: str, holder: Holder, artifact_id: str
) -> Artifact:
    """An artifact of a release the license may download (404 ``FILE_NOT_FOUND`` otherwise:
    nothing is told about releases it may not see); 410 ``RELEASE_YANKED`` when yanked."""
    artifact = session.get(Artifact, artifact_id)
    if artifact is None:
        raise NotFound("This file does not exist.", "FILE_NOT_FOUND")
    release = artifact.release
    product = session.get(Product, release.product_id)
    allowed = (
        product is not None
        and product.slug == product_slug
        and may_get(
            holder, Channel.ALPHA, Channel(release.channel), release.published_at, yanked=False
        )
    )
    if not allowed:
        raise NotFound("This file does not exist.", "FILE_NOT_FOUND")
    ensure_not_yanked(artifact)
    return artifact


@dataclass(frozen=True)
class Offer:
    """A version a license may download, with short-lived links to its files."""

    release: Release
    files: list[tuple[Artifact, str]]


def offers_for(
    session: Session,
    lic: License,
    secret: bytes,
    base_url: str,
    seconds: int,
    now: datetime | None = None,
) -> list[Offer]:
    """Every version ``lic`` may download (every channel, newest first) and links to its files
    (the buyer portal's list)."""
    now = now or utcnow()
    holder = Holder(lic.effective_status(now), lic.expires_at)
    releases = offered(session, lic.product.slug, holder, Channel.ALPHA, with_yanked=False)
    return [
        Offer(r, [(a, artifact_url(secret, base_url, a, seconds, now)) for a in r.artifacts])
        for r in releases
        if r.artifacts
    ]
