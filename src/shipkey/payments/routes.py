"""Stripe webhooks, checkout, its success and cancel pages, and the seller's event log."""

from __future__ import annotations

import dataclasses
from typing import Annotated
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import HTMLResponse, Response
from starlette.concurrency import run_in_threadpool

from shipkey.admin.auth import ADMIN_ERRORS, require_admin
from shipkey.http.deps import (
    ClientDep,
    DatabaseDep,
    DbSession,
    ReadSession,
    SettingsDep,
    get_settings,
    grouped_write,
)
from shipkey.http.openapi import errors
from shipkey.payments import checkout, events, webhooks
from shipkey.payments.gateway import StripeGateway
from shipkey.payments.models import EventStatus
from shipkey.payments.schemas import (
    CheckoutCreate,
    CheckoutCreated,
    EventStatusFilter,
    WebhookEventRead,
    WebhookReceived,
)
from shipkey.web.render import page

router = APIRouter(tags=["payments"])
admin_router = APIRouter(
    prefix="/api/admin/webhook-events",
    tags=["admin: webhook events"],
    dependencies=[Depends(require_admin)],
    responses=ADMIN_ERRORS,
)


webhook_router = APIRouter(tags=["payments"])
"""Stripe's webhook, which takes bursts of sales. It reads its header and body itself instead
of through declared parameters, so that the app answers it in the fast lane
(:mod:`shipkey.http.fast_lane`), before the framework's layers (bench/README.md)."""


@webhook_router.post(
    "/api/webhooks/stripe",
    response_model=WebhookReceived,
    openapi_extra={
        "parameters": [
            {
                "name": "Stripe-Signature",
                "in": "header",
                "required": True,
                "description": "Stripe's signature of the raw body (``t=…,v1=…``).",
                "schema": {"type": "string"},
            }
        ],
        "requestBody": {
            "required": True,
            "content": {"application/json": {"schema": {"type": "object"}}},
            "description": "A Stripe event, exactly as Stripe sent it.",
        },
    },
    responses=errors(
        (400, "`INVALID_SIGNATURE` or `INVALID_PAYLOAD`: nothing was stored."),
        (
            503,
            "`WEBHOOK_NOT_CONFIGURED`: no webhook secret is set; `DATABASE_UNAVAILABLE` (with "
            "`Retry-After`): Stripe sends the event again.",
        ),
    ),
)
async def stripe_webhook(request: Request) -> Response:
    """Stripe's events. 400 ``INVALID_SIGNATURE`` / ``INVALID_PAYLOAD`` before anything is
    stored; each event id takes effect once."""
    settings = get_settings(request)
    secret = settings.stripe_webhook_secret
    # Checked against the raw body (the signature is over these exact bytes) before the request
    # takes a writer's place or a database connection.
    event = webhooks.verify(
        await request.body(),
        request.headers.get("stripe-signature"),
        secret.get_secret_value() if secret else None,
    )
    if settings.automatic_tax and event.type.startswith("checkout.session."):
        expanded = await run_in_threadpool(checkout.with_invoice, settings, event.object)
        event = dataclasses.replace(event, object=expanded)
    # Events that arrive together are committed together (each still all-or-nothing). One that
    # does not take effect at once is rolled back and received again, which keeps it for later.
    try:
        received = await grouped_write(request, events.receive_at_once, settings, event)
    except events.NotApplied:
        received = await grouped_write(request, events.receive, settings, event)
    answer = WebhookReceived(duplicate=received.duplicate, status=received.status)
    return Response(answer.model_dump_json(by_alias=True), media_type="application/json")


@router.post(
    "/api/checkout",
    responses=errors(
        (400, "`CONSENT_REQUIRED`: the withdrawal waiver is on and the buyer did not agree."),
        (404, "No such product (`PRODUCT_NOT_FOUND`)."),
        (
            409,
            "The product is not for sale (`PRODUCT_INACTIVE`), or Stripe gave no page to pay "
            "on (`PAYMENT_PROVIDER_ERROR`).",
        ),
        (502, "Stripe refused or could not be reached (`PAYMENT_PROVIDER_ERROR`)."),
        (
            503,
            "`PAYMENTS_NOT_CONFIGURED`: no Stripe key is set; or `DATABASE_UNAVAILABLE` (with "
            "`Retry-After`).",
        ),
    ),
)
def start_checkout(
    data: CheckoutCreate, db: DatabaseDep, settings: SettingsDep, client: ClientDep
) -> CheckoutCreated:
    """A new PENDING purchase and the Stripe Checkout Session that pays for it."""
    return checkout.start(db, settings, StripeGateway(settings), data, client.ip)


@router.get("/checkout/success", response_class=HTMLResponse, include_in_schema=False)
def checkout_success(
    request: Request,
    db: DatabaseDep,
    settings: SettingsDep,
    session_id: Annotated[str, Query(min_length=1, max_length=255)],
) -> HTMLResponse:
    view = checkout.confirm(db, settings, StripeGateway(settings), session_id)
    again = f"/checkout/success?{urlencode({'session_id': session_id})}"
    return page(
        request,
        "checkout_success.html",
        {"view": view, "again_url": again},
        purchase_locale=view.locale,
    )


@router.get("/checkout/cancel", response_class=HTMLResponse, include_in_schema=False)
def checkout_cancel(request: Request) -> HTMLResponse:
    return page(request, "checkout_cancel.html", {})


@admin_router.get("")
def list_webhook_events(
    session: ReadSession,
    status: Annotated[EventStatusFilter | None, Query()] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> list[WebhookEventRead]:
    """Stripe events received, newest first."""
    wanted = EventStatus(status.upper()) if status else None
    return [
        WebhookEventRead.model_validate(row) for row in events.list_events(session, wanted, limit)
    ]


@admin_router.post(
    "/{event_id}/retry",
    responses=errors(
        (404, "No such event (`EVENT_NOT_FOUND`)."),
        (409, "It has already taken effect (`EVENT_ALREADY_APPLIED`)."),
    ),
)
def retry_webhook_event(
    event_id: str, session: DbSession, settings: SettingsDep
) -> WebhookEventRead:
    """Apply a failed or waiting event again now; 409 when it has already taken effect."""
    return WebhookEventRead.model_validate(events.retry(session, settings, event_id))
