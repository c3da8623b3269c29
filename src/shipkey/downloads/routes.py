"""Download endpoints: counted links, stateless signed URLs, and the admin side of both."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool
from starlette.responses import Response

from shipkey.admin.auth import ADMIN_ERRORS, require_admin
from shipkey.catalog import service as catalog
from shipkey.config import Settings
from shipkey.downloads import serving, signed
from shipkey.downloads.responses import file_response
from shipkey.downloads.schemas import SignedUrlCreate, SignedUrlRead
from shipkey.http.deps import (
    ClientDep,
    DatabaseDep,
    ReadSession,
    SettingsDep,
    StorageDep,
    write,
)
from shipkey.http.net import Client
from shipkey.http.openapi import (
    errors,
    file_responses,
    query_parameter,
    query_parameters,
)
from shipkey.metrics import Metrics
from shipkey.storage import Storage

router = APIRouter(tags=["downloads"])
admin_router = APIRouter(
    prefix="/api/admin",
    tags=["admin: downloads"],
    dependencies=[Depends(require_admin)],
    responses=ADMIN_ERRORS,
)
UNAVAILABLE = (
    503,
    "`STORAGE_UNAVAILABLE`, `DATABASE_UNAVAILABLE`, or the buyer's personal copy is not ready "
    "(`COPY_NOT_READY`, with `Retry-After`) or cannot be made (`STAMPING_FAILED`).",
)
RANGE = (416, "The range starts past the file's end (`RANGE_NOT_SATISFIABLE`).")
LINK_ANSWERS = file_responses() | errors(
    (403, "The purchase was refunded or disputed, or the link revoked (`LINK_REVOKED`, …)."),
    (404, "`LINK_NOT_FOUND`, `FILE_NOT_FOUND` or `FILE_MISSING`."),
    (410, "`LINK_EXPIRED`, or `LINK_USED` (a used link, or its resume budget spent)."),
    RANGE,
    UNAVAILABLE,
)
SIGNED_ANSWERS = file_responses(redirect=True) | errors(
    (403, "The signature is missing or not valid (`INVALID_SIGNATURE`)."),
    (404, "`FILE_NOT_FOUND` or `FILE_MISSING`."),
    (410, "The link has expired (`LINK_EXPIRED`)."),
    RANGE,
    UNAVAILABLE,
)
SIGNED_PARAMETERS = query_parameters(
    query_parameter(
        "expires",
        {"type": "string", "pattern": "^[0-9]{1,12}$"},
        description="Unix time the link ends.",
    ),
    query_parameter(
        "sig", {"type": "string", "pattern": "^[0-9a-f]{64}$"}, description="HMAC-SHA256, hex."
    ),
)


def _range_request(request: Request) -> serving.RangeRequest:
    return serving.RangeRequest(
        range=request.headers.get("range"),
        if_range=request.headers.get("if-range"),
        if_none_match=request.headers.get("if-none-match"),
    )


@router.head(
    "/api/download/{token}",
    response_class=Response,
    operation_id="download_head",
    responses=LINK_ANSWERS,
)
@router.get(
    "/api/download/{token}",
    response_class=Response,
    operation_id="download",
    responses=LINK_ANSWERS,
)
async def download(
    token: str,
    request: Request,
    db: DatabaseDep,
    storage: StorageDep,
    settings: SettingsDep,
    client: ClientDep,
) -> Response:
    """The purchase's file. The first request counts; a Range after byte 0 resumes for free
    (up to the file's size in resumed bytes); HEAD and a matching If-None-Match count nothing.

    A stamped copy still to be made is built first, before the writer's place is taken, so a
    large PDF holds up no sale; the link is then counted in a short transaction of its own.
    """
    head = request.method == "HEAD"
    await run_in_threadpool(serving.prepare_copy, db, storage, token)
    plan, response = await write(
        request, _serve_link, storage, settings, token, _range_request(request), client, head
    )
    if not head:
        metrics: Metrics = request.app.state.metrics
        metrics.downloads.labels(outcome=plan.outcome).inc()
    return response


def _serve_link(
    session: Session,
    storage: Storage,
    settings: Settings,
    token: str,
    range_request: serving.RangeRequest,
    client: Client,
    head: bool,
) -> tuple[serving.ServePlan, Response]:
    """What the link gets, and its answer, made before the count is committed (a failure to
    make the answer takes the count back)."""
    plan = serving.open_link(session, storage, token, range_request, client, head=head)
    return plan, file_response(plan, storage, settings, head=head)


@router.head(
    "/api/signed/{file_key:path}",
    response_class=Response,
    operation_id="signed_head",
    responses=SIGNED_ANSWERS,
    openapi_extra=SIGNED_PARAMETERS,
)
@router.get(
    "/api/signed/{file_key:path}",
    response_class=Response,
    operation_id="signed",
    responses=SIGNED_ANSWERS,
    openapi_extra=SIGNED_PARAMETERS,
)
def signed_download(
    file_key: str,
    request: Request,
    session: ReadSession,
    storage: StorageDep,
    settings: SettingsDep,
) -> Response:
    """A file behind a stateless HMAC-signed URL (previews, samples, support hand-outs). A
    missing or malformed ``expires`` or ``sig`` is 403 ``INVALID_SIGNATURE``, as a wrong one."""
    expires, sig = request.query_params.get("expires"), request.query_params.get("sig")
    plan = signed.open_signed(
        session, storage, settings.secret, file_key, expires, sig, _range_request(request)
    )
    return file_response(plan, storage, settings, head=request.method == "HEAD")


@admin_router.post(
    "/signed-urls",
    status_code=201,
    responses=errors(
        (404, "No such product (`PRODUCT_NOT_FOUND`)."),
        (409, "The product has no file (`NO_FILE`)."),
    ),
)
def create_signed_url(
    data: SignedUrlCreate, session: ReadSession, settings: SettingsDep
) -> SignedUrlRead:
    product = catalog.get_product(session, data.product)
    url, expires_at = signed.make_signed_url(
        session, settings.secret, settings.base_url, product, data.expires_in
    )
    return SignedUrlRead(url=url, expires_at=expires_at)
