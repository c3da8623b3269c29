"""The seller's webhook endpoints and their deliveries: the rules behind the admin API, the
pages and the CLI. Every function runs in the caller's transaction (it flushes, never commits).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from shipkey.clock import utcnow
from shipkey.db.paging import DEFAULT_LIMIT, Page, page
from shipkey.errors import Conflict, NotFound
from shipkey.hooks.delivery import new_secret
from shipkey.hooks.models import DeliveryStatus, WebhookDelivery, WebhookEndpoint
from shipkey.hooks.outbox import DELIVER_JOB, EVENT_TYPES, emit, forget_listeners
from shipkey.ids import new_id
from shipkey.jobs.service import enqueue


def _known(events: Sequence[str] | None) -> list[str]:
    wanted = list(dict.fromkeys(events or []))
    unknown = [event for event in wanted if event not in EVENT_TYPES]
    if unknown:
        raise ValueError(f"unknown event types: {', '.join(unknown)}")
    return wanted


def create_endpoint(
    session: Session, url: str, events: Sequence[str] | None = None, description: str = ""
) -> WebhookEndpoint:
    endpoint = WebhookEndpoint(
        id=new_id("ep"),
        url=url,
        events=_known(events),
        description=description,
        secret=new_secret(),
        enabled=True,
        created_at=utcnow(),
    )
    session.add(endpoint)
    session.flush()
    forget_listeners(session)
    return endpoint


def get_endpoint(session: Session, endpoint_id: str) -> WebhookEndpoint:
    endpoint = session.get(WebhookEndpoint, endpoint_id)
    if endpoint is None:
        raise NotFound("No webhook endpoint has this id.", "ENDPOINT_NOT_FOUND")
    return endpoint


def list_endpoints(
    session: Session, *, limit: int = DEFAULT_LIMIT, cursor: str | None = None
) -> Page[WebhookEndpoint]:
    return page(
        session,
        select(WebhookEndpoint),
        created_at=WebhookEndpoint.created_at,
        row_id=WebhookEndpoint.id,
        limit=limit,
        cursor=cursor,
    )


def update_endpoint(session: Session, endpoint_id: str, changes: dict[str, Any]) -> WebhookEndpoint:
    """Change ``url``, ``events``, ``description`` or ``enabled`` (those present in
    ``changes``). Enabling a disabled endpoint also ends its run of failures."""
    endpoint = get_endpoint(session, endpoint_id)
    if changes.get("url") is not None:
        endpoint.url = changes["url"]
    if "events" in changes:
        endpoint.events = _known(changes["events"])
    if changes.get("description") is not None:
        endpoint.description = changes["description"]
    if changes.get("enabled") is True and not endpoint.enabled:
        endpoint.enabled = True
        endpoint.failing_since = None
        endpoint.disabled_reason = None
    elif changes.get("enabled") is False and endpoint.enabled:
        endpoint.enabled = False
        endpoint.disabled_reason = "Disabled by the seller."
    session.flush()
    forget_listeners(session)
    return endpoint


def delete_endpoint(session: Session, endpoint_id: str) -> None:
    """The endpoint and its delivery log; jobs still queued for it find nothing to send."""
    endpoint = get_endpoint(session, endpoint_id)
    session.execute(delete(WebhookDelivery).where(WebhookDelivery.endpoint_id == endpoint.id))
    session.delete(endpoint)
    session.flush()
    forget_listeners(session)


def _require_enabled(endpoint: WebhookEndpoint) -> None:
    if not endpoint.enabled:
        raise Conflict("The endpoint is disabled; enable it first.", "ENDPOINT_DISABLED")


def send_test(session: Session, endpoint_id: str) -> WebhookDelivery:
    """A ``ping`` event to this endpoint only."""
    endpoint = get_endpoint(session, endpoint_id)
    _require_enabled(endpoint)
    data = {"endpointId": endpoint.id, "message": "A test event from shipkey."}
    event = emit(session, "ping", data, endpoints=[endpoint])
    assert event is not None  # noqa: S101 (one endpoint was given)
    return session.scalars(
        select(WebhookDelivery).where(WebhookDelivery.event_id == event.id)
    ).one()


def list_deliveries(
    session: Session, endpoint_id: str, *, limit: int = DEFAULT_LIMIT, cursor: str | None = None
) -> Page[WebhookDelivery]:
    """The endpoint's deliveries, newest first."""
    get_endpoint(session, endpoint_id)
    return page(
        session,
        select(WebhookDelivery).where(WebhookDelivery.endpoint_id == endpoint_id),
        created_at=WebhookDelivery.created_at,
        row_id=WebhookDelivery.id,
        limit=limit,
        cursor=cursor,
    )


def get_delivery(session: Session, delivery_id: str) -> WebhookDelivery:
    delivery = session.get(WebhookDelivery, delivery_id)
    if delivery is None:
        raise NotFound("No webhook delivery has this id.", "DELIVERY_NOT_FOUND")
    return delivery


def retry_delivery(session: Session, delivery_id: str) -> WebhookDelivery:
    """A FAILED or PENDING delivery tried again now (a pending one's scheduled try is then
    skipped); 409 when it was delivered or its endpoint is disabled."""
    delivery = get_delivery(session, delivery_id)
    if delivery.status is DeliveryStatus.DELIVERED:
        raise Conflict("The delivery has arrived already.", "ALREADY_DELIVERED")
    _require_enabled(get_endpoint(session, delivery.endpoint_id))
    now = utcnow()
    delivery.status = DeliveryStatus.PENDING
    delivery.next_attempt_at = now
    session.flush()
    enqueue(
        session, DELIVER_JOB, {"delivery": delivery.id, "attempt": delivery.attempts}, run_at=now
    )
    return delivery
