"""The upload script's target on a product's page: the request's body is the product's file.
It answers in JSON, errors too (as the API does), for the page's script."""

from __future__ import annotations

from typing import Annotated

from fastapi import Query, Request
from starlette.responses import JSONResponse

from shipkey.admin_ui.pages import Admin, Posted, admin_router
from shipkey.catalog.routes import receive_file

router = admin_router(page_errors=False)


@router.put("/products/{ref}/file", dependencies=[*Admin, *Posted])
async def upload_file(
    request: Request, ref: str, filename: Annotated[str | None, Query(max_length=1024)] = None
) -> JSONResponse:
    """The body is the file, streamed into storage as the API's upload does."""
    uploaded = await receive_file(request, ref, filename)
    return JSONResponse(
        {
            "fileName": uploaded.file_name,
            "fileSize": uploaded.file_size,
            "fileMimeType": uploaded.file_mime_type,
            "sha256": uploaded.sha256,
        }
    )
