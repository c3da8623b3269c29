"""Admin API: products and their files."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request

from shipkey.admin.auth import ADMIN_ERRORS, require_admin
from shipkey.catalog import file_upload, service
from shipkey.catalog.file_upload import UploadedFile
from shipkey.catalog.schemas import ProductCreate, ProductFile, ProductRead, ProductUpdate
from shipkey.http.deps import DbSession, ReadSession, get_database, get_settings, get_storage
from shipkey.http.files import FILENAME_PATTERN
from shipkey.http.openapi import errors, query_parameter
from shipkey.metrics import Metrics

router = APIRouter(
    prefix="/api/admin/products",
    tags=["admin: products"],
    dependencies=[Depends(require_admin)],
    responses=ADMIN_ERRORS,
)
NOT_FOUND = (404, "No such product (`PRODUCT_NOT_FOUND`).")
SLUG_TAKEN = (409, "Another product has this slug (`SLUG_TAKEN`).")


@router.post("", status_code=201, responses=errors(SLUG_TAKEN))
def create_product(data: ProductCreate, session: DbSession) -> ProductRead:
    return ProductRead.model_validate(service.create_product(session, data))


@router.get("")
def list_products(session: ReadSession) -> list[ProductRead]:
    return [ProductRead.model_validate(p) for p in service.list_products(session)]


@router.get("/{ref}", responses=errors(NOT_FOUND))
def get_product(ref: str, session: ReadSession) -> ProductRead:
    return ProductRead.model_validate(service.get_product(session, ref))


@router.patch("/{ref}", responses=errors(NOT_FOUND, SLUG_TAKEN))
def update_product(ref: str, data: ProductUpdate, session: DbSession) -> ProductRead:
    product = service.get_product(session, ref)
    return ProductRead.model_validate(service.update_product(session, product, data))


@router.put(
    "/{ref}/file",
    responses=errors(
        (400, "No usable file name or media type (`INVALID_FILENAME`, `INVALID_MIME_TYPE`)."),
        NOT_FOUND,
        (413, "The file is larger than `SHIPKEY_MAX_UPLOAD_BYTES` (`PAYLOAD_TOO_LARGE`)."),
        (507, "The server's disk is full (`INSUFFICIENT_STORAGE`): nothing kept."),
    ),
    openapi_extra={
        "parameters": [
            query_parameter(
                "filename",
                {"type": "string", "pattern": FILENAME_PATTERN},
                description="The buyer-facing name (folders and control characters removed).",
            )
        ],
        "requestBody": {
            "required": False,
            "description": "The file's bytes (none: an empty file).",
            "content": {
                "application/octet-stream": {"schema": {"type": "string", "format": "binary"}}
            },
        },
    },
)
async def upload_file(ref: str, request: Request) -> ProductFile:
    """Stream the request body into storage as the product's file (any size), kept with its
    ``Content-Type``. ``filename`` is read here, so that a missing or unusable one is 400
    ``INVALID_FILENAME``."""
    uploaded = await receive_file(request, ref, request.query_params.get("filename"))
    return ProductFile.model_validate(uploaded)


async def receive_file(request: Request, ref: str, filename: str | None) -> UploadedFile:
    """The request's body, streamed into storage as the product's file (the API's upload and
    the admin page's script alike; :func:`~shipkey.catalog.file_upload.upload_file` opens its
    own short transactions around the transfer)."""
    uploaded = await file_upload.upload_file(
        get_database(request),
        get_storage(request),
        ref,
        filename,
        request.headers.get("content-type"),
        request.stream(),
        content_length=request.headers.get("content-length"),
        max_bytes=get_settings(request).max_upload_bytes,
    )
    metrics: Metrics = request.app.state.metrics
    metrics.uploaded_bytes.inc(uploaded.file_size)
    return uploaded
