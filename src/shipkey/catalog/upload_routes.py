"""Admin API: resumable uploads of product files (``shipkey files upload`` uses them)."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request, Response

from shipkey.admin.auth import ADMIN_ERRORS, require_admin
from shipkey.catalog import uploads
from shipkey.catalog.upload_schemas import UploadCreate, UploadRead
from shipkey.http.deps import DatabaseDep, DbSession, ReadSession, SettingsDep, StorageDep
from shipkey.http.openapi import errors
from shipkey.metrics import Metrics

router = APIRouter(
    prefix="/api/admin",
    tags=["admin: uploads"],
    dependencies=[Depends(require_admin)],
    responses=ADMIN_ERRORS,
)
NOT_FOUND = (404, "No such upload, or it expired (`UPLOAD_NOT_FOUND`).")


@router.post(
    "/products/{ref}/uploads",
    status_code=201,
    responses=errors(
        (400, "No usable file name or media type (`INVALID_FILENAME`, `INVALID_MIME_TYPE`)."),
        (404, "No such product (`PRODUCT_NOT_FOUND`)."),
        (413, "`size` is over `SHIPKEY_MAX_UPLOAD_BYTES` (`PAYLOAD_TOO_LARGE`)."),
    ),
)
def open_upload(
    ref: str, data: UploadCreate, session: DbSession, settings: SettingsDep
) -> UploadRead:
    """Start an upload, or get the unfinished one for the same file (same size and SHA-256)."""
    return UploadRead.model_validate(
        uploads.open_upload(
            session, settings.resolved_data_dir, ref, data, settings.max_upload_bytes
        )
    )


@router.get("/uploads/{upload_id}", responses=errors(NOT_FOUND))
def get_upload(upload_id: str, session: ReadSession) -> UploadRead:
    """Where an upload stands: ``received`` is where the next chunk starts."""
    return UploadRead.model_validate(uploads.get_upload(session, upload_id))


@router.put(
    "/uploads/{upload_id}",
    responses=errors(
        (
            400,
            "`INVALID_CONTENT_RANGE` (missing, or not within this upload), or `CHUNK_TOO_LONG`.",
        ),
        NOT_FOUND,
        (
            409,
            "`UPLOAD_OFFSET_MISMATCH` (with `received`: where the next chunk starts), or "
            "`UPLOAD_BUSY` (another chunk is being sent).",
        ),
        (413, "The upload is over `SHIPKEY_MAX_UPLOAD_BYTES` (`PAYLOAD_TOO_LARGE`)."),
        (422, "The file that arrived does not have the announced SHA-256 (`CHECKSUM_MISMATCH`)."),
        (
            507,
            "The server's disk is full (`INSUFFICIENT_STORAGE`): the chunk was not kept; send "
            "it again from `received` later.",
        ),
    ),
    openapi_extra={
        "parameters": [
            {
                "name": "Content-Range",
                "in": "header",
                "required": False,
                "description": "Where the chunk goes: ``bytes FIRST-LAST/SIZE``; required but "
                "for an empty file, which a request without a body completes.",
                "schema": {
                    "type": "string",
                    "pattern": "^bytes [0-9]{1,15}-[0-9]{1,15}/[0-9]{1,15}$",
                },
            }
        ],
        "requestBody": {
            "required": False,
            "content": {
                "application/octet-stream": {"schema": {"type": "string", "format": "binary"}}
            },
        },
    },
)
async def put_chunk(
    upload_id: str,
    request: Request,
    db: DatabaseDep,
    storage: StorageDep,
    settings: SettingsDep,
) -> UploadRead:
    """One chunk, with ``Content-Range: bytes FIRST-LAST/SIZE`` starting at ``received``."""
    result = await uploads.write_chunk(
        db,
        storage,
        settings.resolved_data_dir,
        upload_id,
        request.headers.get("content-range"),
        request.stream(),
        settings.max_upload_bytes,
    )
    read = UploadRead.model_validate(result.upload)
    if result.file is None:
        return read
    metrics: Metrics = request.app.state.metrics
    metrics.uploaded_bytes.inc(result.file.file_size)
    return read.model_copy(update={"received": read.size, "complete": True, "file": result.file})


@router.delete("/uploads/{upload_id}", status_code=204, responses=errors(NOT_FOUND))
def cancel_upload(upload_id: str, session: DbSession, settings: SettingsDep) -> Response:
    uploads.cancel_upload(session, settings.resolved_data_dir, upload_id)
    return Response(status_code=204)
