"""Signing the seller in: with an admin token, or by a link mailed to ``SHIPKEY_ADMIN_EMAIL``."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Form, Query, Request
from starlette.responses import Response

from shipkey.actor import Actor, ActorSource, Note, act_as
from shipkey.admin.auth import UNKNOWN
from shipkey.admin_ui import service
from shipkey.admin_ui.pages import Posted, admin_router
from shipkey.http.acting import sign_in_scope
from shipkey.http.deps import ClientDep, DbSession, SettingsDep
from shipkey.portal import service as portal
from shipkey.web.render import page_locale, redirect, render, tr
from shipkey.web.session import WebSessionDep, safe_next

router = admin_router()


@router.get("/login")
def login_page(
    request: Request, settings: SettingsDep, next: Annotated[str | None, Query()] = None
) -> Response:
    return render(
        request,
        "admin/login.html",
        {"next": safe_next(next, "/admin"), "email_login": bool(settings.admin_email)},
    )


@router.post("/login", dependencies=Posted)
def sign_in_with_token(
    request: Request,
    session: DbSession,
    settings: SettingsDep,
    client: ClientDep,
    web_session: WebSessionDep,
    scope: Annotated[ActorSource, Depends(sign_in_scope)],
    token: Annotated[str, Form()] = "",
    next: Annotated[str, Form()] = "/admin",
) -> Response:
    """Sign in with an admin token; wrong tokens are counted per client (then 429). Both the
    sign-in and a failed one are written to the audit log."""
    act_as(session, scope)
    found = service.admin_name_for_token(session, settings, token)
    if found is None:
        scope.set_actor(Actor(UNKNOWN, client.ip))
        scope.note(Note("sign_in.failed", None, {"via": "page"}))
        limits: portal.LoginRateLimits = request.app.state.login_rate_limits
        limits.hit_failed_token(client.ip)
        return render(
            request,
            "admin/login.html",
            {
                "next": next,
                "email_login": bool(settings.admin_email),
                "error": tr(request, "This admin token is not valid."),
            },
            status_code=401,
        )
    name, token_id = found
    scope.set_actor(Actor(name, client.ip))
    scope.note(Note("sign_in", None, {"via": "page"}))
    web_session.sign_in_admin(session, name, token_id)
    return redirect(request, safe_next(next, "/admin"))


@router.post("/login/email", dependencies=Posted)
def sign_in_by_email(
    request: Request,
    session: DbSession,
    settings: SettingsDep,
    client: ClientDep,
    email: Annotated[str, Form()] = "",
) -> Response:
    """A sign-in link to ``SHIPKEY_ADMIN_EMAIL``; the same answer for any other address."""
    address = portal.normalise_email(email) or ""
    limits: portal.LoginRateLimits = request.app.state.login_rate_limits
    if limits.hit(client.ip, address):  # over the address's limit: the same answer, nothing sent
        portal.request_admin_link(session, settings, address, page_locale(request))
    return render(request, "portal/login_sent.html", {"email": address})


@router.post("/logout", dependencies=Posted)
def sign_out(request: Request, session: DbSession, web_session: WebSessionDep) -> Response:
    web_session.sign_out(session)
    return redirect(request, "/admin/login")
