"""The purchase pages: search by the buyer's address, one purchase with its links, licenses and
e-mails, and the buttons that act on it (resend, refund, reset or add downloads, a new link).
Only the buttons the purchase's state allows are shown; a refund, which cannot be undone, is
asked for on a page of its own that says what it ends. A refused action goes back to the
purchase with the reason as a notice."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated

from fastapi import Form, Query, Request
from sqlalchemy.orm import Session
from starlette.responses import Response

from shipkey.admin_ui import actions, service
from shipkey.admin_ui.pages import Admin, CursorParam, Posted, admin_router, pager
from shipkey.config import Settings
from shipkey.downloads import links as downloads
from shipkey.errors import NotFound
from shipkey.http.deps import DbSession, ReadSession, SettingsDep
from shipkey.orders import service as orders
from shipkey.orders.models import Purchase
from shipkey.portal import service as portal
from shipkey.risk import service as risk
from shipkey.sales import flows
from shipkey.web.errors import notice_on_error
from shipkey.web.render import redirect, render, tr
from shipkey.web.session import WebSessionDep, get_web_session

router = admin_router()


@router.get("/purchases", dependencies=Admin)
def purchases(
    request: Request,
    session: ReadSession,
    q: Annotated[str, Query(max_length=320)] = "",
    cursor: CursorParam = "",
) -> Response:
    found = service.search_purchases(session, q, cursor or None)
    return render(
        request,
        "admin/purchases.html",
        {
            "purchases": found.items,
            "q": q,
            "pager": pager("/admin/purchases", found, cursor, q=q),
        },
    )


@router.get("/purchases/{purchase_id}", dependencies=Admin)
def purchase_page(request: Request, purchase_id: str, session: ReadSession) -> Response:
    purchase = orders.get_purchase(session, purchase_id)
    view = portal.purchase_view(session, purchase)
    return render(
        request,
        "admin/purchase.html",
        {
            "purchase": purchase,
            "view": view,
            "messages": service.messages_for(session, purchase.id),
            "actions": actions.purchase_actions(purchase),
            "risk": risk.open_for(session, purchase_id=purchase.id),
        },
    )


@router.get("/purchases/{purchase_id}/refund", dependencies=Admin)
def confirm_refund(
    request: Request, purchase_id: str, session: ReadSession, settings: SettingsDep
) -> Response:
    """The refund asked for again, with what it ends; its form posts the refund."""
    purchase = orders.get_purchase(session, purchase_id)
    with notice_on_error(request, f"/admin/purchases/{purchase.id}"):
        actions.ensure_refundable(purchase)
    return render(
        request,
        "admin/confirm_refund.html",
        {
            "purchase": purchase,
            "preview": actions.refund_preview(session, settings, purchase),
        },
    )


PurchaseAction = Callable[[Request, Session, Settings, Purchase], str]
"""A button on the purchase page: does it, and says what was done (or "" to say nothing)."""


def _resend(request: Request, session: Session, settings: Settings, purchase: Purchase) -> str:
    service.resend_delivery(session, settings, purchase)
    return tr(request, "The delivery e-mail was queued again.")


def _refund(request: Request, session: Session, settings: Settings, purchase: Purchase) -> str:
    actions.ensure_refundable(purchase)
    flows.refund(session, settings, purchase)
    return tr(request, "Refunded: links ended and licenses revoked.")


def _reset(request: Request, session: Session, settings: Settings, purchase: Purchase) -> str:
    service.reset_download_count(session, purchase)
    return tr(request, "The download count was reset.")


def _link(request: Request, session: Session, settings: Settings, purchase: Purchase) -> str:
    link = downloads.issue_link(session, purchase, settings.base_url)
    get_web_session(request).notify(tr(request, "A new download link:"), "link", url=link.url)
    return ""


PURCHASE_ACTIONS: dict[str, PurchaseAction] = {
    "resend": _resend,
    "refund": _refund,
    "reset-downloads": _reset,
    "download-link": _link,
}


def _count(raw: str) -> int:
    """The number of downloads to add as typed; 0 (refused) for anything but a small number."""
    return int(raw) if raw.isascii() and raw.isdigit() and len(raw) < 7 else 0


@router.post("/purchases/{purchase_id}/add-downloads", dependencies=[*Admin, *Posted])
def add_downloads(
    request: Request,
    purchase_id: str,
    session: DbSession,
    web_session: WebSessionDep,
    count: Annotated[str, Form()] = "",
) -> Response:
    purchase = orders.get_purchase(session, purchase_id)
    back = f"/admin/purchases/{purchase.id}"
    with notice_on_error(request, back):
        service.add_downloads(session, purchase, _count(count))
    web_session.notify(tr(request, "Downloads added."))
    return redirect(request, back)


@router.post("/purchases/{purchase_id}/{action}", dependencies=[*Admin, *Posted])
def purchase_action(
    request: Request,
    purchase_id: str,
    action: str,
    session: DbSession,
    settings: SettingsDep,
    web_session: WebSessionDep,
) -> Response:
    handler = PURCHASE_ACTIONS.get(action)
    if handler is None:
        raise NotFound(tr(request, "No such action."))
    purchase = orders.get_purchase(session, purchase_id)
    back = f"/admin/purchases/{purchase.id}"
    with notice_on_error(request, back):
        message = handler(request, session, settings, purchase)
    if message:
        web_session.notify(message)
    return redirect(request, back)
