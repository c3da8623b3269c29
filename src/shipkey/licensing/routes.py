"""License endpoints: the public API the seller's software calls, and the seller's admin API."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request, Response
from sqlalchemy.orm import Session

from shipkey.admin.auth import ADMIN_ERRORS, require_admin
from shipkey.clock import utcnow
from shipkey.http.deps import (
    ClientDep,
    DatabaseDep,
    DbSession,
    PageParams,
    ReadSession,
    SettingsDep,
    get_client_ip,
    get_database,
    get_settings,
    json_body,
    json_body_openapi,
)
from shipkey.http.openapi import errors, query_parameter, query_parameters
from shipkey.licensing import admin, seats, validation
from shipkey.licensing.keys import KEY_PATTERN
from shipkey.licensing.lookups import list_activations, list_licenses, lookup
from shipkey.licensing.models import License, LicenseStatus
from shipkey.licensing.rate_limits import LicenseRateLimits
from shipkey.licensing.schemas import (
    ActivateRequest,
    ActivateResponse,
    DeactivateResponse,
    LicenseFileRequest,
    LicenseFileResponse,
    LicenseInfo,
    LicenseListItem,
    LicenseRead,
    PublicKeyRead,
    PublicKeysResponse,
    ValidateRequest,
    ValidateResponse,
)
from shipkey.licensing.signing_keys import SigningKeyStore
from shipkey.schemas import PageOf


async def get_signing_keys(request: Request) -> SigningKeyStore:
    store: SigningKeyStore = request.app.state.signing_keys
    return store


async def get_rate_limits(request: Request) -> LicenseRateLimits:
    limits: LicenseRateLimits = request.app.state.license_rate_limits
    return limits


SigningKeysDep = Annotated[SigningKeyStore, Depends(get_signing_keys)]
RateLimitsDep = Annotated[LicenseRateLimits, Depends(get_rate_limits)]


async def limit_by_ip(limits: RateLimitsDep, client: ClientDep) -> None:
    # In memory: no thread hop (see shipkey.http.deps); with Redis, off the event loop.
    await limits.hit_ip_async(client.ip)


RATE_LIMITED = (429, "Too many requests from this address or for this key (`RATE_LIMITED`).")
INVALID_KEY = (400, "The key is malformed or its checksum is wrong (`INVALID_KEY_FORMAT`).")
NOT_FOUND = (404, "No license with this key (`LICENSE_NOT_FOUND`).")
REFUSED = (
    403,
    "The license cannot be used: `LICENSE_SUSPENDED`, `LICENSE_REVOKED`, `LICENSE_EXPIRED`, "
    "`PRODUCT_MISMATCH`, or `TOO_MANY_ACTIVATIONS` (with `maxActivations` and "
    "`currentActivations`).",
)
INVALID_STATE = (409, "Not possible in the license's status (`INVALID_LICENSE_STATE`).")
NOT_ACTIVATED = (404, "`LICENSE_NOT_FOUND`, or `ACTIVATION_NOT_FOUND`: the machine holds none.")

router = APIRouter(
    prefix="/api/licenses",
    tags=["licenses"],
    dependencies=[Depends(limit_by_ip)],
    responses=errors(RATE_LIMITED, 503),
)
admin_router = APIRouter(
    prefix="/api/admin/licenses",
    tags=["admin: licenses"],
    dependencies=[Depends(require_admin)],
    responses=ADMIN_ERRORS,
)


# --- public -------------------------------------------------------------------------------


@router.post(
    "/activate", responses=errors(INVALID_KEY, REFUSED, NOT_FOUND, (409, "`LICENSE_BUSY`."))
)
def activate(
    data: ActivateRequest,
    db: DatabaseDep,
    settings: SettingsDep,
    signing_keys: SigningKeysDep,
    limits: RateLimitsDep,
    client: ClientDep,
) -> ActivateResponse:
    """Activate a key on a machine and get its signed license file.

    Again on the same machine: "Already activated", no seat used, a fresh license file.
    """
    limits.hit_key(data.license_key)
    result = seats.activate(
        db,
        signing_keys,
        settings.license_key_secrets,
        data.license_key,
        data.machine_id,
        machine_name=data.machine_name,
        ip=client.ip,
        product=data.product,
    )
    return ActivateResponse(
        message="Already activated" if result.already else "License activated",
        license=LicenseInfo.of(result.license, result.now),
        license_file=result.license_file,
    )


@router.delete(
    "/activate",
    responses=errors(
        (400, "`MISSING_PARAMETER` (give both), or `INVALID_KEY_FORMAT`."),
        (403, "`TOO_MANY_DEACTIVATIONS`: the machine keeps its seat."),
        NOT_ACTIVATED,
    ),
    openapi_extra=query_parameters(
        query_parameter("key", {"type": "string", "pattern": KEY_PATTERN}, description="The key."),
        query_parameter("machineId", {"type": "string", "minLength": 1, "maxLength": 255}),
    ),
)
def deactivate(
    request: Request, session: DbSession, settings: SettingsDep, limits: RateLimitsDep
) -> DeactivateResponse:
    """Free the seat a machine holds; the machine can be activated again later.

    A license's machines can be deactivated the product's ``maxDeactivations`` times in 30
    days; more is refused with 403 ``TOO_MANY_DEACTIVATIONS`` and the machine keeps its seat.
    ``key`` and ``machineId`` are read here, so that a missing one is 400 ``MISSING_PARAMETER``.
    """
    key, machine_id = request.query_params.get("key"), request.query_params.get("machineId")
    if key:
        limits.hit_key(key)
    seats.deactivate(session, settings.license_key_secrets, key, machine_id)
    return DeactivateResponse(message="License deactivated on this machine")


validate_router = APIRouter(prefix="/api/licenses", tags=["licenses"])
"""``validate``, the endpoint programs call at every start. It reads what it needs from the
app's state and its body itself instead of through dependencies and a declared body (FastAPI
solves them on every request, which cost more than the validation's query), and counts the
per-IP limit that every public license endpoint has itself. The app answers it in the fast lane
(:mod:`shipkey.http.fast_lane`), before the framework's layers, with the same answers.
bench/README.md has the measurements."""


@validate_router.post(
    "/validate",
    response_model=ValidateResponse,
    openapi_extra=json_body_openapi(ValidateRequest),
    responses=errors(RATE_LIMITED, 503),
)
async def validate(request: Request) -> Response:
    """Whether a key is valid now and, with ``machineId``, activated on that machine."""
    # Programs call this at every start: no dependencies and no declared body (see json_body).
    limits: LicenseRateLimits = request.app.state.license_rate_limits
    ip = get_client_ip(request)
    await limits.hit_ip_async(ip)  # first: a malformed body counts too
    data = await json_body(request, ValidateRequest)
    await limits.hit_key_async(data.license_key)
    db, settings = get_database(request), get_settings(request)
    result = await validation.validate(
        db,
        settings.license_key_secrets,
        data.license_key,
        data.machine_id,
        product=data.product,
        ip=ip,
        network_limit=settings.risk_validation_networks,
    )
    info = LicenseInfo.of(result.license, result.now) if result.license is not None else None
    answer = ValidateResponse(valid=result.valid, code=result.code, license=info)
    # Already checked by its type: serialised once, not validated again on the way out.
    return Response(answer.model_dump_json(by_alias=True), media_type="application/json")


@router.post(
    "/file", responses=errors(INVALID_KEY, REFUSED, NOT_ACTIVATED, (409, "`LICENSE_BUSY`."))
)
def license_file(
    data: LicenseFileRequest,
    db: DatabaseDep,
    settings: SettingsDep,
    signing_keys: SigningKeysDep,
    limits: RateLimitsDep,
) -> LicenseFileResponse:
    """A fresh license file for a machine that is already activated (no seat is used)."""
    limits.hit_key(data.license_key)
    result = validation.renew_file(
        db,
        signing_keys,
        settings.license_key_secrets,
        data.license_key,
        data.machine_id,
        product=data.product,
    )
    return LicenseFileResponse(
        license_file=result.license_file, license=LicenseInfo.of(result.license, result.now)
    )


@router.get("/public-keys")
def public_keys(signing_keys: SigningKeysDep) -> PublicKeysResponse:
    """The Ed25519 keys license files are signed with (older keys stay until retired)."""
    return PublicKeysResponse(
        keys=[PublicKeyRead(**key.to_json_dict()) for key in signing_keys.published()]
    )


# --- admin --------------------------------------------------------------------------------


def _read(session: Session, lic: License) -> LicenseRead:
    return LicenseRead.detail(lic, list_activations(session, lic.id), utcnow())


@admin_router.get(
    "",
    responses=errors((400, "A cursor this list did not give out (`INVALID_CURSOR`).")),
)
def list_all(
    session: ReadSession,
    paging: PageParams,
    status: Annotated[LicenseStatus | None, Query(description="Only this status.")] = None,
    product: Annotated[
        str | None, Query(min_length=1, max_length=64, description="A product's id or slug.")
    ] = None,
    email: Annotated[
        str | None, Query(min_length=1, max_length=320, description="Only this buyer's.")
    ] = None,
) -> PageOf[LicenseListItem]:
    """Licenses, newest first."""
    found = list_licenses(
        session,
        status=status,
        product=product,
        email=email,
        limit=paging.limit,
        cursor=paging.cursor,
    )
    now = utcnow()
    return PageOf[LicenseListItem](
        items=[LicenseListItem.of(row.license, row.email, now) for row in found.items],
        next_cursor=found.next_cursor,
    )


@admin_router.get("/{key}", responses=errors(NOT_FOUND))
def get_license(key: str, session: ReadSession) -> LicenseRead:
    """A license (by key, in any case, or by its ``lic_…`` id) with every machine it was on."""
    return _read(session, lookup(session, key))


@admin_router.post("/{key}/suspend", responses=errors(NOT_FOUND, INVALID_STATE))
def suspend(key: str, session: DbSession) -> LicenseRead:
    """ACTIVE → SUSPENDED: activation and validation refuse it until reinstated."""
    return _read(session, admin.suspend(session, lookup(session, key)))


@admin_router.post("/{key}/reinstate", responses=errors(NOT_FOUND, INVALID_STATE))
def reinstate(key: str, session: DbSession) -> LicenseRead:
    """SUSPENDED → ACTIVE; 409 ``INVALID_LICENSE_STATE`` for a revoked (or expired) license."""
    return _read(session, admin.reinstate(session, lookup(session, key)))


@admin_router.post("/{key}/revoke", responses=errors(NOT_FOUND, INVALID_STATE))
def revoke(key: str, session: DbSession) -> LicenseRead:
    """→ REVOKED, for good."""
    return _read(session, admin.revoke(session, lookup(session, key)))


@admin_router.post("/{key}/reset-activations", responses=errors(NOT_FOUND))
def reset_activations(key: str, session: DbSession) -> LicenseRead:
    """Deactivate every machine: all seats are free again."""
    lic = lookup(session, key)
    seats.reset_activations(session, lic)
    return _read(session, lic)
