"""Access links: ``/access/<token>`` for buyers, ``/api/access/<token>`` for sellers' sites."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from pydantic import AliasPath, ConfigDict, Field, field_validator

from shipkey.admin.auth import OptionalAdminDep
from shipkey.fulfilment import access
from shipkey.fulfilment.models import AccessKind
from shipkey.http.deps import ReadSession, SettingsDep
from shipkey.http.openapi import errors
from shipkey.orders.service import purchase_url
from shipkey.schemas import ApiModel
from shipkey.web.render import page, page_headers

router = APIRouter(tags=["access"])
BUYER_FIELDS = {"email", "purchase_id"}
"""Who bought: only a seller's bearer token gets these (the token travels in URLs)."""


# What an access check found, read from an ``access.AccessCheck`` and its grant. (A docstring
# would show in the OpenAPI document.)
class AccessRead(ApiModel):
    model_config = ConfigDict(from_attributes=True)

    valid: bool
    code: access.AccessCode
    kind: AccessKind = Field(validation_alias=AliasPath("grant", "kind"))
    product: str = Field(validation_alias=AliasPath("grant", "purchase", "product", "slug"))
    product_name: str = Field(validation_alias=AliasPath("grant", "purchase", "product", "name"))
    course_slug: str | None = Field(
        validation_alias=AliasPath("grant", "purchase", "product", "meta")
    )
    email: str | None = Field(
        default=None,
        validation_alias=AliasPath("grant", "purchase", "email"),
        description="The buyer's e-mail; only with a seller's (admin) bearer token.",
    )
    purchase_id: str | None = Field(
        default=None,
        validation_alias=AliasPath("grant", "purchase_id"),
        description="The purchase; only with a seller's (admin) bearer token.",
    )
    expires_at: datetime | None = Field(validation_alias=AliasPath("grant", "expires_at"))

    @field_validator("course_slug", mode="before")
    @classmethod
    def _course_slug(cls, meta: object) -> str | None:
        """The product metadata's ``courseSlug``, when it is a string."""
        slug = meta.get("courseSlug") if isinstance(meta, dict) else meta
        return slug if isinstance(slug, str) else None


@router.get(
    "/api/access/{token}",
    response_model=AccessRead,
    responses=errors(
        (401, "An Authorization header with an admin token that is not valid (`UNAUTHORIZED`)."),
        (404, "No such access token (`ACCESS_NOT_FOUND`)."),
        503,
    ),
)
def check_access(token: str, session: ReadSession, seller: OptionalAdminDep) -> Response:
    """Whether an access token is good now (``VALID``, ``EXPIRED``, ``REVOKED``,
    ``SUSPENDED``, ``NOT_PAID``); 404 ``ACCESS_NOT_FOUND`` for an unknown one. The buyer's
    ``email`` and the ``purchaseId`` only with an admin bearer token (401 for a wrong one)."""
    read = AccessRead.model_validate(access.check(session, token))
    hidden = None if seller is not None else BUYER_FIELDS
    return JSONResponse(read.model_dump(mode="json", by_alias=True, exclude=hidden))


@router.get("/access/{token}", response_class=HTMLResponse, include_in_schema=False)
def open_access(
    token: str, request: Request, session: ReadSession, settings: SettingsDep
) -> Response:
    """The buyer's access link: to the seller's content when it has a URL, else a page."""
    result = access.check(session, token)
    target = access.redirect_target(result)
    if target is not None:
        return RedirectResponse(target, status_code=303, headers=page_headers(request))
    read = AccessRead.model_validate(result)
    status: Literal[200, 403] = 200 if result.valid else 403
    return page(
        request,
        "access_grant.html",
        {
            "product_name": read.product_name,
            "code": read.code,
            "expires_at": read.expires_at,
            "course_slug": read.course_slug,
            "purchase_url": purchase_url(settings, result.grant.purchase_id),
        },
        purchase_locale=result.grant.purchase.locale,
        status_code=status,
    )
