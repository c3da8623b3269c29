"""Access links: ``/access/<token>`` for buyers, ``/api/access/<token>`` for sellers' sites."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from shipkey.fulfilment import access
from shipkey.fulfilment.models import AccessKind
from shipkey.http.deps import ReadSession, SettingsDep
from shipkey.mail.service import purchase_url
from shipkey.schemas import ApiModel
from shipkey.web.render import page

router = APIRouter(tags=["access"])


class AccessRead(ApiModel):
    valid: bool
    code: access.AccessCode
    kind: AccessKind
    product: str
    product_name: str
    course_slug: str | None
    email: str | None
    purchase_id: str
    expires_at: datetime | None

    @classmethod
    def of(cls, result: access.AccessCheck) -> AccessRead:
        grant = result.grant
        product = grant.purchase.product
        slug = product.meta.get("courseSlug")
        return cls(
            valid=result.valid,
            code=result.code,
            kind=grant.kind,
            product=product.slug,
            product_name=product.name,
            course_slug=slug if isinstance(slug, str) else None,
            email=grant.purchase.email,
            purchase_id=grant.purchase_id,
            expires_at=grant.expires_at,
        )


@router.get("/api/access/{token}")
def check_access(token: str, session: ReadSession) -> AccessRead:
    """Whether an access token is good now (``VALID``, ``EXPIRED``, ``REVOKED``,
    ``SUSPENDED``, ``NOT_PAID``); 404 ``ACCESS_NOT_FOUND`` for an unknown one."""
    return AccessRead.of(access.check(session, token))


@router.get("/access/{token}", response_class=HTMLResponse, include_in_schema=False)
def open_access(
    token: str, request: Request, session: ReadSession, settings: SettingsDep
) -> Response:
    """The buyer's access link: to the seller's content when it has a URL, else a page."""
    result = access.check(session, token)
    target = access.redirect_target(result)
    if target is not None:
        return RedirectResponse(target, status_code=303, headers={"Cache-Control": "no-store"})
    read = AccessRead.of(result)
    status: Literal[200, 403] = 200 if result.valid else 403
    return page(
        request,
        "access_grant.html",
        {
            "product_name": read.product_name,
            "code": read.code,
            "expires_at": read.expires_at,
            "course_slug": read.course_slug,
            "purchase_url": purchase_url(settings, read.purchase_id),
        },
        purchase_locale=result.grant.purchase.locale,
        status_code=status,
    )
