"""Buyer pages: sign-in by e-mailed link, the purchases, links, machines and license files."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, FastAPI, Form, Query, Request
from starlette.responses import Response

from shipkey.http.deps import ClientDep, DatabaseDep, DbSession, ReadSession, SettingsDep
from shipkey.i18n import LOCALES
from shipkey.licensing.signing_keys import SigningKeyStore
from shipkey.portal import service
from shipkey.portal.models import LoginPurpose
from shipkey.web.csrf import CsrfChecked
from shipkey.web.errors import (
    NeedsSignIn,
    form_on_error,
    notice_on_error,
    page_errors,
    titled_on_error,
)
from shipkey.web.errors import install as install_pages
from shipkey.web.render import page_locale, redirect, render, tr
from shipkey.web.session import WebSessionDep, get_web_session, safe_next


def _no_such_purchase(request: Request) -> str:
    """What a buyer is told for a purchase, license or machine not found in their account."""
    return tr(request, "There is no such purchase in your account.")


router = APIRouter(
    tags=["pages: buyer"],
    include_in_schema=False,
    dependencies=[page_errors(not_found=_no_such_purchase)],
)
Posted = [CsrfChecked]


def current_buyer(request: Request) -> str:
    """The signed-in buyer's address; otherwise off to the sign-in page."""
    email = get_web_session(request).email
    if email is None:
        raise NeedsSignIn("/login", request.url.path)
    return email


BuyerDep = Annotated[str, Depends(current_buyer)]


# --- signing in -----------------------------------------------------------------------------


@router.get("/login")
def login_page(request: Request, next: Annotated[str | None, Query()] = None) -> Response:
    return render(request, "portal/login.html", {"next": safe_next(next, "/purchases")})


@router.post("/login", dependencies=Posted)
def request_link(
    request: Request,
    session: DbSession,
    settings: SettingsDep,
    client: ClientDep,
    email: Annotated[str, Form()] = "",
    next: Annotated[str, Form()] = "/purchases",
) -> Response:
    """Mail a sign-in link; the answer is the same whether or not the address is known."""
    limits: service.LoginRateLimits = request.app.state.login_rate_limits
    address = service.normalise_email(email)
    if address is None:
        return render(
            request,
            "portal/login.html",
            {"next": next, "email": email, "error": tr(request, "Enter a valid e-mail address.")},
            status_code=422,
        )
    too_many = {
        "next": next,
        "email": email,
        "error": tr(request, "Too many sign-in requests. Please wait a while."),
    }
    with form_on_error(
        lambda exc: render(request, "portal/login.html", too_many, status_code=exc.status_code)
    ):
        may_send = limits.hit(client.ip, address)
    if may_send:  # over the address's limit: the same answer, nothing sent
        service.request_buyer_link(session, settings, address, page_locale(request))
    get_web_session(request).remember_destination(next)
    return render(request, "portal/login_sent.html", {"email": address})


@router.get("/login/{token}")
def confirm_link(request: Request, token: str, session: ReadSession) -> Response:
    """The link from the e-mail: a button signs in (so mail scanners that open links do not
    use them up)."""
    sign_in = service.peek_login(session, token)
    if sign_in is None:
        return render(request, "portal/link_invalid.html", status_code=410)
    return render(request, "portal/login_confirm.html", {"token": token, "email": sign_in.email})


@router.post("/login/{token}", dependencies=Posted)
def use_link(
    request: Request,
    token: str,
    session: DbSession,
    web_session: WebSessionDep,
    client: ClientDep,
    next: Annotated[str, Form()] = "",
) -> Response:
    sign_in = service.redeem_login(session, token, client=client)
    if sign_in is None:
        return render(request, "portal/link_invalid.html", status_code=410)
    if sign_in.purpose is LoginPurpose.ADMIN:
        web_session.sign_in_admin(session, sign_in.email)
        return redirect(request, safe_next(next, "/admin"))
    destination = web_session.take_destination(safe_next(next, "/purchases"))
    web_session.sign_in_buyer(session, sign_in.email)
    return redirect(request, destination)


@router.post("/logout", dependencies=Posted)
def sign_out(request: Request, session: DbSession, web_session: WebSessionDep) -> Response:
    web_session.sign_out(session)
    web_session.notify(tr(request, "You are signed out."))
    return redirect(request, "/login")


@router.post("/language", dependencies=Posted)
def choose_language(
    request: Request,
    web_session: WebSessionDep,
    locale: Annotated[str, Form()] = "",
    next: Annotated[str, Form()] = "/purchases",
) -> Response:
    if locale in LOCALES:
        web_session.set_locale(locale)
    return redirect(request, safe_next(next, "/purchases"))


# --- purchases ------------------------------------------------------------------------------


@router.get("/purchases")
def purchases(request: Request, email: BuyerDep, session: ReadSession) -> Response:
    return render(
        request, "portal/purchases.html", {"purchases": service.list_purchases(session, email)}
    )


@router.get("/purchases/{purchase_id}")
def purchase_page(
    request: Request, purchase_id: str, email: BuyerDep, session: ReadSession, settings: SettingsDep
) -> Response:
    purchase = service.owned_purchase(session, purchase_id, email)
    view = service.purchase_view(session, purchase)
    return render(
        request,
        "portal/purchase.html",
        {
            "view": view,
            "purchase": purchase,
            "offers": service.license_offers(session, settings, view),
            "access": service.access_links(settings, view),
            "support": settings.support_address,
        },
        locale=page_locale(request, purchase.locale),
    )


@router.post("/purchases/{purchase_id}/download-link", dependencies=Posted)
def new_download_link(
    request: Request,
    purchase_id: str,
    email: BuyerDep,
    session: DbSession,
    settings: SettingsDep,
    web_session: WebSessionDep,
) -> Response:
    purchase = service.owned_purchase(session, purchase_id, email)
    back = f"/purchases/{purchase.id}"
    with notice_on_error(
        request, back, lambda reason: tr(request, "No new link: %(reason)s", reason=reason)
    ):
        link = service.new_download_link(session, settings, purchase)
    web_session.notify(
        tr(request, "Your download link is ready."),
        "link",
        url=link.url,
        expires=link.expires_at.isoformat(),
    )
    return redirect(request, back)


@router.post(
    "/purchases/{purchase_id}/licenses/{license_id}/machines/{activation_id}/deactivate",
    dependencies=Posted,
)
def deactivate_machine(
    request: Request,
    purchase_id: str,
    license_id: str,
    activation_id: str,
    email: BuyerDep,
    session: DbSession,
    settings: SettingsDep,
    web_session: WebSessionDep,
) -> Response:
    purchase = service.owned_purchase(session, purchase_id, email)
    activation = service.deactivate_machine(session, settings, purchase, license_id, activation_id)
    name = activation.machine_name or activation.machine_id
    web_session.notify(tr(request, "%(machine)s was deactivated.", machine=name))
    return redirect(request, f"/purchases/{purchase.id}")


@router.get("/purchases/{purchase_id}/licenses/{license_id}/machines/{activation_id}/file")
def license_file(
    request: Request,
    purchase_id: str,
    license_id: str,
    activation_id: str,
    email: BuyerDep,
    db: DatabaseDep,
    settings: SettingsDep,
) -> Response:
    signing_keys: SigningKeyStore = request.app.state.signing_keys
    with titled_on_error(request, tr(request, "No license file")):
        activation, content = service.machine_license_file(
            db, signing_keys, settings, email, purchase_id, license_id, activation_id
        )
    safe = "".join(c for c in activation.machine_id if c.isalnum() or c in "-_.")[:60] or "machine"
    return Response(
        content,
        media_type="text/plain; charset=utf-8",
        headers={
            "Content-Disposition": f'attachment; filename="license-{safe}.lic"',
            "Cache-Control": "no-store",
        },
    )


def install(app: FastAPI) -> None:
    """The buyer pages, with the static files and HTML error pages they share with the admin."""
    settings = app.state.settings
    app.state.login_rate_limits = service.LoginRateLimits(
        enabled=settings.rate_limits_enabled, storage=settings.rate_limit_storage
    )
    install_pages(app)
    app.include_router(router)
