"""Releases on a product's page: publish a version, upload its files (streamed by the page's
script, answered in JSON), yank a version; each file shows how often it was downloaded."""

from __future__ import annotations

from typing import Annotated

from fastapi import Query, Request
from pydantic import ValidationError
from starlette.responses import JSONResponse, Response

from shipkey.admin_ui.pages import Admin, Posted, admin_router
from shipkey.admin_ui.products import FormFields
from shipkey.catalog import service as catalog
from shipkey.errors import BadRequest
from shipkey.http.deps import DbSession, get_database, get_settings, get_storage
from shipkey.releases import service
from shipkey.releases.routes import forget_releases
from shipkey.releases.schemas import PLATFORM_PATTERN, ReleaseCreate
from shipkey.web.render import redirect, tr
from shipkey.web.session import get_web_session

router = admin_router()
upload_router = admin_router(page_errors=False)


@router.post("/products/{ref}/releases", dependencies=[*Admin, *Posted])
def publish(request: Request, ref: str, form: FormFields, session: DbSession) -> Response:
    product = catalog.get_product(session, ref)
    try:
        data = ReleaseCreate.model_validate(
            {
                "version": form.get("version", ""),
                "channel": form.get("channel", "stable"),
                "notes": form.get("notes", ""),
            }
        )
    except ValidationError as exc:
        raise BadRequest(tr(request, "Give a version and a channel."), "INVALID_RELEASE") from exc
    release = service.create_release(session, product, data)
    forget_releases(request)
    get_web_session(request).notify(
        tr(request, "Version %(version)s was published.", version=release.version)
    )
    return redirect(request, f"/admin/products/{product.id}#releases-h")


@router.post("/releases/{release_id}/yank", dependencies=[*Admin, *Posted])
def yank(request: Request, release_id: str, form: FormFields, session: DbSession) -> Response:
    release = service.get_release(session, release_id)
    service.yank(session, release, (form.get("reason") or "").strip()[:500] or None)
    forget_releases(request)
    get_web_session(request).notify(
        tr(request, "Version %(version)s was yanked.", version=release.version)
    )
    return redirect(request, f"/admin/products/{release.product_id}#releases-h")


@upload_router.put("/releases/{release_id}/artifacts", dependencies=[*Admin, *Posted])
async def upload_artifact(
    request: Request,
    release_id: str,
    filename: Annotated[str | None, Query(max_length=255)] = None,
    platform: Annotated[str, Query(pattern=PLATFORM_PATTERN)] = service.ANY,
    arch: Annotated[str, Query(pattern=PLATFORM_PATTERN)] = service.ANY,
) -> JSONResponse:
    """The body is the file, streamed into storage and signed as the API's upload does."""
    artifact = await service.upload_artifact(
        get_database(request),
        get_storage(request),
        request.app.state.signing_keys,
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
    return JSONResponse(
        {"fileName": artifact.file_name, "size": artifact.size, "sha256": artifact.sha256}
    )
