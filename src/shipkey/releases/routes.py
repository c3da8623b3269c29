"""Release endpoints: the seller's admin API, the update check programs call, and the
short-lived links to release files."""

from __future__ import annotations

import json

from fastapi import APIRouter, Depends, Query, Request
from fastapi.exceptions import RequestValidationError
from pydantic import ValidationError
from sqlalchemy.orm import Session
from starlette.responses import Response

from shipkey.admin.auth import ADMIN_ERRORS, require_admin
from shipkey.catalog import service as catalog
from shipkey.clock import utcnow
from shipkey.config import Settings
from shipkey.downloads.responses import file_response
from shipkey.downloads.serving import RangeRequest
from shipkey.errors import Forbidden
from shipkey.http.deps import (
    DbSession,
    ReadSession,
    SettingsDep,
    StorageDep,
    get_client_ip,
    get_database,
    get_settings,
    get_storage,
    write,
)
from shipkey.http.openapi import errors, file_responses
from shipkey.licensing.models import LicenseStatus
from shipkey.licensing.rate_limits import LicenseRateLimits
from shipkey.licensing.routes import SigningKeysDep
from shipkey.releases import service
from shipkey.releases.catalog import ReleaseCatalog
from shipkey.releases.models import Artifact, Channel
from shipkey.releases.schemas import (
    PLATFORM_PATTERN,
    ArtifactRead,
    LatestPath,
    LatestQuery,
    ReleaseCreate,
    ReleaseRead,
    UpdateRead,
    YankRequest,
)
from shipkey.releases.versions import parse_version
from shipkey.storage import Storage

NO_PRODUCT = (404, "No such product (`PRODUCT_NOT_FOUND`).")
NO_RELEASE = (404, "No such release (`RELEASE_NOT_FOUND`).")

admin_router = APIRouter(
    prefix="/api/admin",
    tags=["admin: releases"],
    dependencies=[Depends(require_admin)],
    responses=ADMIN_ERRORS,
)
router = APIRouter(tags=["releases"])


def range_request(request: Request) -> RangeRequest:
    return RangeRequest(
        range=request.headers.get("range"),
        if_range=request.headers.get("if-range"),
        if_none_match=request.headers.get("if-none-match"),
    )


def forget_releases(request: Request) -> None:
    """This process's update checks read the releases again (others within a second)."""
    catalog_: ReleaseCatalog = request.app.state.release_catalog
    catalog_.forget()


# --- admin --------------------------------------------------------------------------------


@admin_router.post(
    "/products/{ref}/releases",
    status_code=201,
    responses=errors(
        400,
        NO_PRODUCT,
        (409, "The product already has this version (`RELEASE_EXISTS`)."),
    ),
)
def create_release(
    ref: str, data: ReleaseCreate, session: DbSession, request: Request
) -> ReleaseRead:
    """Publish a version of a product (its files follow with ``PUT …/artifacts``)."""
    product = catalog.get_product(session, ref)
    release = service.create_release(session, product, data)
    forget_releases(request)
    session.refresh(release)
    return ReleaseRead.model_validate(release)


@admin_router.get("/products/{ref}/releases", responses=errors(NO_PRODUCT))
def list_releases(ref: str, session: ReadSession) -> list[ReleaseRead]:
    """Every release of a product, newest version first, with its files and their downloads."""
    product = catalog.get_product(session, ref)
    return [ReleaseRead.model_validate(r) for r in service.list_releases(session, product.id)]


@admin_router.put(
    "/releases/{release_id}/artifacts",
    responses=errors(
        (400, "The request is not right (`INVALID_PLATFORM`, …)."),
        NO_RELEASE,
        (409, "The release already has a file of this name (`ARTIFACT_EXISTS`)."),
        413,
    ),
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {
                "application/octet-stream": {"schema": {"type": "string", "format": "binary"}}
            },
        }
    },
)
async def upload_artifact(
    release_id: str,
    request: Request,
    signing_keys: SigningKeysDep,
    filename: str = Query(max_length=255, min_length=1, description="The file's name."),
    platform: str = Query(default=service.ANY, pattern=PLATFORM_PATTERN),
    arch: str = Query(default=service.ANY, pattern=PLATFORM_PATTERN),
) -> ArtifactRead:
    """Stream the body into storage as a file of the release (any size), signed with the
    license-file signing key."""
    artifact = await service.upload_artifact(
        get_database(request),
        get_storage(request),
        signing_keys,
        release_id,
        filename,
        platform,
        arch,
        request.headers.get("content-type"),
        request.stream(),
        content_length=request.headers.get("content-length"),
        max_bytes=get_settings(request).max_upload_bytes,
    )
    forget_releases(request)
    return ArtifactRead.model_validate(artifact)


@admin_router.post("/releases/{release_id}/yank", responses=errors(NO_RELEASE))
def yank(
    release_id: str, session: DbSession, request: Request, data: YankRequest | None = None
) -> ReleaseRead:
    """Withdraw a release: no license is offered it any more, its files are not served."""
    release = service.yank(
        session, service.get_release(session, release_id), data.reason if data else None
    )
    forget_releases(request)
    return ReleaseRead.model_validate(release)


# --- the update check ---------------------------------------------------------------------


def license_key(authorization: str | None) -> str:
    scheme, _, key = (authorization or "").partition(" ")
    return key.strip() if scheme.lower() == "license" else ""


latest_router = APIRouter(tags=["releases"])
"""``latest``, which programs call at every start as they validate: answered in the fast lane
(:mod:`shipkey.http.fast_lane`) like validation, so it reads its path, query and header itself
and declares them in ``openapi_extra``."""

_LATEST_PARAMETERS = [
    {
        "name": "product",
        "in": "path",
        "required": True,
        "schema": {"type": "string", "maxLength": 64},
        "description": "The product's slug.",
    },
    {
        "name": "channel",
        "in": "query",
        "required": False,
        "schema": {"type": "string", "enum": [c.value for c in Channel], "default": "stable"},
        "description": "The least stable channel wanted (it includes the more stable ones).",
    },
    *(
        {
            "name": name,
            "in": "query",
            "required": False,
            "schema": {"type": "string", "pattern": PLATFORM_PATTERN, "default": service.ANY},
        }
        for name in ("platform", "arch")
    ),
    {
        "name": "currentVersion",
        "in": "query",
        "required": False,
        "schema": {"type": "string", "maxLength": 64},
        "description": "The version the program runs: 204 when it is already the newest.",
    },
    {
        "name": "authorization",
        "in": "header",
        "required": False,
        "schema": {"type": "string"},
        "description": "`License <key>`",
    },
]


def _invalid(location: str, exc: ValidationError) -> RequestValidationError:
    errors = exc.errors(include_url=False)
    return RequestValidationError([{**err, "loc": (location, *err["loc"])} for err in errors])


@latest_router.get(
    "/api/releases/{product}/latest",
    response_model=UpdateRead,
    openapi_extra={"parameters": _LATEST_PARAMETERS},
    responses={
        204: {"description": "`currentVersion` is already the newest this license may get."},
        **errors(
            400,
            (401, "No license key, or one that is not valid (`UNAUTHORIZED`, …)."),
            (403, "The license is for another product, or not active (`EXPIRED`, …)."),
        ),
        422: {"description": "A parameter is invalid (`VALIDATION_ERROR`)."},
    },
)
async def latest(request: Request) -> Response:
    """The newest release this license may download on ``channel`` (or a more stable one),
    with short-lived links to its files for the platform."""
    limits: LicenseRateLimits = request.app.state.license_rate_limits
    await limits.hit_ip_async(get_client_ip(request))
    try:
        place = LatestPath.model_validate(request.path_params)
    except ValidationError as exc:
        raise _invalid("path", exc) from None
    try:
        query = LatestQuery.model_validate(request.query_params)
    except ValidationError as exc:
        raise _invalid("query", exc) from None
    key = license_key(request.headers.get("authorization"))
    await limits.hit_key_async(key)
    db, settings = get_database(request), get_settings(request)
    product, channel, platform, arch = place.product, query.channel, query.platform, query.arch
    current_version = query.current_version
    current = parse_version(current_version) if current_version is not None else None
    holder = await service.holder_of(db, settings.license_key_secrets, product, key)
    catalog: ReleaseCatalog = request.app.state.release_catalog
    found = service.pick_update(await catalog.releases(product), holder, channel, platform, arch)
    if found is None:
        if holder.status is LicenseStatus.EXPIRED:
            raise Forbidden("This license has expired.", "EXPIRED")
        return Response(status_code=204)
    release, files = found
    if current is not None and release.key <= current:
        return Response(status_code=204)
    now = utcnow()
    answer = {
        "version": release.version,
        "channel": release.channel.value,
        "notes": release.notes,
        "publishedAt": release.published_at.isoformat().replace("+00:00", "Z"),
        "artifacts": [
            {
                "fileName": f.file_name,
                "size": f.size,
                "sha256": f.sha256,
                "platform": f.platform,
                "arch": f.arch,
                "url": service.artifact_url(
                    settings.secret, settings.base_url, f, settings.release_link_seconds, now
                ),
                "signature": f.signature,
                "kid": f.kid,
            }
            for f in files
        ],
    }
    # Built by hand from the snapshot (UpdateRead documents it): no model on the hot path.
    return Response(json.dumps(answer), media_type="application/json")


# --- the files ----------------------------------------------------------------------------


FILE_ANSWERS = file_responses() | errors(
    (403, "The signature is missing or not valid (`INVALID_SIGNATURE`)."),
    (404, "`FILE_NOT_FOUND` or `FILE_MISSING`."),
    (
        410,
        "The link has expired (`LINK_EXPIRED`), or the release was withdrawn (`RELEASE_YANKED`).",
    ),
    (416, "The range starts past the file's end (`RANGE_NOT_SATISFIABLE`)."),
    (503, "`STORAGE_UNAVAILABLE` or `DATABASE_UNAVAILABLE`."),
)
"""What a release file's GET and HEAD answer (HEAD without a body)."""


@router.head(
    "/api/releases/files/{artifact_id}/{name}",
    response_class=Response,
    operation_id="release_file_head",
    responses=FILE_ANSWERS,
)
@router.get(
    "/api/releases/files/{artifact_id}/{name}",
    response_class=Response,
    operation_id="release_file",
    responses=FILE_ANSWERS,
)
async def release_file(
    artifact_id: str,
    name: str,
    request: Request,
    storage: StorageDep,
    settings: SettingsDep,
    expires: str | None = None,
    sig: str | None = None,
) -> Response:
    """A release file behind a short-lived signed link; a request from byte 0 is counted."""
    head = request.method == "HEAD"
    return await write(
        request, _serve, storage, settings, artifact_id, expires, sig, range_request(request), head
    )


def _serve(
    session: Session,
    storage: Storage,
    settings: Settings,
    artifact_id: str,
    expires: str | None,
    sig: str | None,
    ranged: RangeRequest,
    head: bool,
) -> Response:
    artifact = service.open_artifact(session, settings.secret, artifact_id, expires, sig)
    return serve_artifact(session, storage, settings, artifact, ranged, head)


def serve_artifact(
    session: Session,
    storage: Storage,
    settings: Settings,
    artifact: Artifact,
    ranged: RangeRequest,
    head: bool,
) -> Response:
    """The answer with an artifact's bytes (any download mode), counting a download."""
    plan = service.serve_plan(storage, artifact, ranged)
    if plan.counted and not plan.not_modified and not head:
        service.count_download(session, artifact.id)
    return file_response(plan, storage, settings, head=head)
