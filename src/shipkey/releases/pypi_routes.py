"""The package index's endpoints (see :mod:`shipkey.releases.pypi`)."""

from __future__ import annotations

import json
import re
from typing import Annotated

from fastapi import APIRouter, Header, Path, Request
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool
from starlette.responses import Response

from shipkey.catalog.schemas import SLUG_PATTERN
from shipkey.config import Settings
from shipkey.db.engine import Database
from shipkey.downloads.serving import RangeRequest
from shipkey.errors import ShipkeyError
from shipkey.http.deps import DatabaseDep, SettingsDep, StorageDep, write
from shipkey.http.openapi import errors, file_responses
from shipkey.releases import pypi, service
from shipkey.releases.routes import range_request, serve_artifact
from shipkey.releases.versions import Holder
from shipkey.storage import Storage

router = APIRouter(prefix="/pypi", tags=["package index"])

Product = Annotated[
    str, Path(min_length=1, max_length=64, pattern=SLUG_PATTERN, description="The product's slug.")
]
Authorization = Annotated[
    str | None, Header(description="HTTP Basic: user `license`, the key as password.")
]
AUTH_ERRORS = errors(
    (401, "No key, or one refused (with `WWW-Authenticate: Basic`)."),
    (503, "The database is not available (`DATABASE_UNAVAILABLE`)."),
)
FILE_ANSWERS = (
    file_responses()
    | AUTH_ERRORS
    | errors(
        (404, "This license is not offered the file (`FILE_NOT_FOUND`)."),
        (410, "The release was withdrawn (`RELEASE_YANKED`)."),
        (416, "The range starts past the file's end (`RANGE_NOT_SATISFIABLE`)."),
        (503, "`STORAGE_UNAVAILABLE` or `DATABASE_UNAVAILABLE`."),
    )
)
"""What an index file's GET and HEAD answer (HEAD without a body)."""


def realm_of(product: str) -> str:
    """The Basic realm of a product's index: only a slug goes into the header (the path is
    checked against the slug pattern first; anything else gets the plain realm)."""
    if re.fullmatch(SLUG_PATTERN, product) is None:
        return "shipkey"
    return f"shipkey {product}"


async def _holder(db: Database, settings: Settings, product: str, auth: str | None) -> Holder:
    realm = realm_of(product)
    key = pypi.key_from_basic(auth, realm)
    try:
        return await service.holder_of(db, settings.license_key_secrets, product, key)
    except ShipkeyError as exc:
        raise pypi.as_challenge(exc, realm) from exc


def _answer(request: Request, page: str, data: dict[str, object]) -> Response:
    headers = {"cache-control": "private, no-store", "vary": "Accept, Authorization"}
    if pypi.wants_json(request.headers.get("accept")):
        return Response(json.dumps(data), media_type=pypi.JSON_TYPE, headers=headers)
    return Response(page, media_type="text/html", headers=headers)


@router.get("/{product}/simple/", response_class=Response, responses=AUTH_ERRORS)
async def projects(
    product: Product,
    request: Request,
    db: DatabaseDep,
    settings: SettingsDep,
    authorization: Authorization = None,
) -> Response:
    """The projects of a product this license may install (PEP 503 / PEP 691)."""
    holder = await _holder(db, settings, product, authorization)

    def _read() -> list[str]:
        with db.read_session() as session:
            return sorted(pypi.index_files(session, product, holder))

    names = await run_in_threadpool(_read)
    return _answer(request, pypi.projects_html(names), pypi.projects_json(names))


@router.get(
    "/{product}/simple/{project}/",
    response_class=Response,
    responses=AUTH_ERRORS | errors((404, "No such project in this index (`PROJECT_NOT_FOUND`).")),
)
async def project(
    product: Product,
    project: Annotated[str, Path(max_length=200)],
    request: Request,
    db: DatabaseDep,
    settings: SettingsDep,
    authorization: Authorization = None,
) -> Response:
    """The files of one project this license may install, with their SHA-256."""
    holder = await _holder(db, settings, product, authorization)
    name = pypi.normalize_name(project)

    def _read() -> tuple[str, dict[str, object]] | None:
        with db.read_session() as session:
            files = pypi.index_files(session, product, holder).get(name)
            if files is None:
                return None
            return pypi.project_html(product, name, files), pypi.project_json(product, name, files)

    found = await run_in_threadpool(_read)
    if found is None:
        raise ShipkeyError("No such project in this index.", "PROJECT_NOT_FOUND", status_code=404)
    return _answer(request, *found)


@router.head(
    "/{product}/files/{artifact_id}/{name}", response_class=Response, responses=FILE_ANSWERS
)
@router.get(
    "/{product}/files/{artifact_id}/{name}", response_class=Response, responses=FILE_ANSWERS
)
async def index_file(
    product: Product,
    artifact_id: Annotated[str, Path(max_length=32)],
    name: Annotated[str, Path(max_length=255)],
    request: Request,
    db: DatabaseDep,
    storage: StorageDep,
    settings: SettingsDep,
    authorization: Authorization = None,
) -> Response:
    """A file of the index, for a license that may download its release."""
    holder = await _holder(db, settings, product, authorization)
    head = request.method == "HEAD"
    return await write(
        request,
        _serve,
        storage,
        settings,
        product,
        holder,
        artifact_id,
        range_request(request),
        head,
    )


def _serve(
    session: Session,
    storage: Storage,
    settings: Settings,
    product: str,
    holder: Holder,
    artifact_id: str,
    ranged: RangeRequest,
    head: bool,
) -> Response:
    artifact = service.offered_artifact(session, product, holder, artifact_id)
    return serve_artifact(session, storage, settings, artifact, ranged, head)
