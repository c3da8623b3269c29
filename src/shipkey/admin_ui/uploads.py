"""The upload script's target on a product's page: the request's body is the product's file.
It answers in JSON, errors too (as the API does), for the page's script."""

from __future__ import annotations

from typing import Annotated

from fastapi import Query, Request
from starlette.responses import JSONResponse

from shipkey.admin_ui.pages import Admin, Posted, admin_router
from shipkey.catalog import file_upload
from shipkey.http.deps import DatabaseDep, SettingsDep, StorageDep
from shipkey.metrics import Metrics

router = admin_router(page_errors=False)


@router.put("/products/{ref}/file", dependencies=[*Admin, *Posted])
async def upload_file(
    request: Request,
    ref: str,
    db: DatabaseDep,
    storage: StorageDep,
    settings: SettingsDep,
    filename: Annotated[str | None, Query(max_length=1024)] = None,
) -> JSONResponse:
    """The body is the file, streamed into storage (:func:`shipkey.catalog.file_upload.upload_file`
    opens its own short transactions around the transfer)."""
    uploaded = await file_upload.upload_file(
        db,
        storage,
        ref,
        filename,
        request.headers.get("content-type"),
        request.stream(),
        content_length=request.headers.get("content-length"),
        max_bytes=settings.max_upload_bytes,
    )
    metrics: Metrics = request.app.state.metrics
    metrics.uploaded_bytes.inc(uploaded.file_size)
    return JSONResponse(
        {
            "fileName": uploaded.file_name,
            "fileSize": uploaded.file_size,
            "fileMimeType": uploaded.file_mime_type,
            "sha256": uploaded.sha256,
        }
    )
