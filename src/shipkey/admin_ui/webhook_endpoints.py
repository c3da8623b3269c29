"""The seller's webhook endpoints: list and create, edit, test, delete, the signing secret shown
once more on request (a POST, CSRF-checked), and each endpoint's delivery log with a retry
button. The rules live in :mod:`shipkey.hooks.service`."""

from __future__ import annotations

from typing import Annotated

from fastapi import Form, Query, Request
from pydantic import ValidationError
from starlette.responses import Response

from shipkey.admin_ui.pages import Admin, Posted, admin_router
from shipkey.errors import BadRequest
from shipkey.hooks import EVENT_TYPES
from shipkey.hooks import service as hooks
from shipkey.hooks.models import WebhookEndpoint
from shipkey.hooks.schemas import EndpointCreate
from shipkey.http.deps import DbSession, ReadSession
from shipkey.web.errors import notice_on_error
from shipkey.web.render import redirect, render, tr
from shipkey.web.session import WebSessionDep

router = admin_router()

LIST = "/admin/webhook-endpoints"
Url = Annotated[str, Form(max_length=2000)]
Events = Annotated[list[str], Form()]
Description = Annotated[str, Form(max_length=500)]
Cursor = Annotated[str | None, Query(max_length=200, pattern=r"^[A-Za-z0-9_-]+$")]


def _checked(request: Request, url: str, events: list[str]) -> EndpointCreate:
    """The form's values, or a refusal in words."""
    try:
        return EndpointCreate(url=url.strip(), events=[e for e in events if e in EVENT_TYPES])
    except ValidationError:
        raise BadRequest(tr(request, "Enter an http:// or https:// URL with a host.")) from None


def _endpoint_page(
    request: Request,
    session: ReadSession | DbSession,
    endpoint: WebhookEndpoint,
    cursor: str | None = None,
    secret: str | None = None,
) -> Response:
    found = hooks.list_deliveries(session, endpoint.id, limit=50, cursor=cursor)
    context = {
        "endpoint": endpoint,
        "deliveries": found.items,
        "next_cursor": found.next_cursor,
        "event_types": EVENT_TYPES,
        "secret": secret,
    }
    return render(request, "admin/webhook_endpoint.html", context)


@router.get("/webhook-endpoints", dependencies=Admin)
def endpoints(request: Request, session: ReadSession, cursor: Cursor = None) -> Response:
    found = hooks.list_endpoints(session, limit=50, cursor=cursor)
    context = {
        "endpoints": found.items,
        "next_cursor": found.next_cursor,
        "event_types": EVENT_TYPES,
    }
    return render(request, "admin/webhook_endpoints.html", context)


@router.post("/webhook-endpoints", dependencies=[*Admin, *Posted])
def create_endpoint(
    request: Request,
    session: DbSession,
    url: Url = "",
    events: Events = [],  # noqa: B006 (FastAPI copies defaults)
    description: Description = "",
) -> Response:
    with notice_on_error(request, LIST):
        data = _checked(request, url, events)
        endpoint = hooks.create_endpoint(session, data.url, data.events, description.strip())
    return _endpoint_page(request, session, endpoint, secret=endpoint.secret)


@router.get("/webhook-endpoints/{endpoint_id}", dependencies=Admin)
def endpoint_page(
    request: Request, endpoint_id: str, session: ReadSession, cursor: Cursor = None
) -> Response:
    return _endpoint_page(request, session, hooks.get_endpoint(session, endpoint_id), cursor)


@router.post("/webhook-endpoints/{endpoint_id}", dependencies=[*Admin, *Posted])
def update_endpoint(
    request: Request,
    endpoint_id: str,
    session: DbSession,
    web_session: WebSessionDep,
    url: Url = "",
    events: Events = [],  # noqa: B006 (FastAPI copies defaults)
    description: Description = "",
    enabled: Annotated[str, Form(max_length=5)] = "",
) -> Response:
    here = f"{LIST}/{endpoint_id}"
    with notice_on_error(request, here):
        data = _checked(request, url, events)
        changes = {
            "url": data.url,
            "events": data.events,
            "description": description.strip(),
            "enabled": enabled == "on",
        }
        hooks.update_endpoint(session, endpoint_id, changes)
    web_session.notify(tr(request, "The endpoint was saved."))
    return redirect(request, here)


@router.post("/webhook-endpoints/{endpoint_id}/secret", dependencies=[*Admin, *Posted])
def show_secret(request: Request, endpoint_id: str, session: ReadSession) -> Response:
    endpoint = hooks.get_endpoint(session, endpoint_id)
    return _endpoint_page(request, session, endpoint, secret=endpoint.secret)


@router.post("/webhook-endpoints/{endpoint_id}/test", dependencies=[*Admin, *Posted])
def test_endpoint(
    request: Request, endpoint_id: str, session: DbSession, web_session: WebSessionDep
) -> Response:
    here = f"{LIST}/{endpoint_id}"
    with notice_on_error(request, here):
        hooks.send_test(session, endpoint_id)
    web_session.notify(tr(request, "A test event is on its way."))
    return redirect(request, here)


@router.post("/webhook-endpoints/{endpoint_id}/delete", dependencies=[*Admin, *Posted])
def delete_endpoint(
    request: Request, endpoint_id: str, session: DbSession, web_session: WebSessionDep
) -> Response:
    hooks.delete_endpoint(session, endpoint_id)
    web_session.notify(tr(request, "The endpoint was deleted."))
    return redirect(request, LIST)


@router.post("/webhook-deliveries/{delivery_id}/retry", dependencies=[*Admin, *Posted])
def retry_delivery(
    request: Request, delivery_id: str, session: DbSession, web_session: WebSessionDep
) -> Response:
    delivery = hooks.get_delivery(session, delivery_id)
    here = f"{LIST}/{delivery.endpoint_id}"
    with notice_on_error(request, here):
        hooks.retry_delivery(session, delivery_id)
    web_session.notify(tr(request, "The delivery will be tried again now."))
    return redirect(request, here)
