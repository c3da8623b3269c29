"""Admin API: the seller's webhook endpoints, their delivery log, tests and retries."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Response

from shipkey.admin.auth import ADMIN_ERRORS, require_admin
from shipkey.hooks import service
from shipkey.hooks.schemas import (
    DeliveryRead,
    EndpointCreate,
    EndpointCreated,
    EndpointRead,
    EndpointSecret,
    EndpointUpdate,
)
from shipkey.http.deps import DbSession, PageParams, ReadSession
from shipkey.http.openapi import errors
from shipkey.schemas import PageOf

EndpointId = Annotated[str, Path(min_length=1, max_length=32, description="The endpoint's id.")]
DeliveryId = Annotated[str, Path(min_length=1, max_length=32, description="The delivery's id.")]


def _errors(*statuses: int) -> dict[int | str, dict[str, Any]]:
    meaning = {
        400: "A bad cursor (`INVALID_CURSOR`) or body (`INVALID_JSON`).",
        401: "No valid admin token.",
        404: "No such endpoint (`ENDPOINT_NOT_FOUND`) or delivery (`DELIVERY_NOT_FOUND`).",
        409: "The endpoint is disabled (`ENDPOINT_DISABLED`) or the delivery arrived already "
        "(`ALREADY_DELIVERED`).",
        422: "A field is missing or invalid (`VALIDATION_ERROR`).",
    }
    # 401 is the router's (ADMIN_ERRORS); 422 VALIDATION_ERROR is added to every input.
    return errors(*((status, meaning[status]) for status in statuses if status not in (401, 422)))


router = APIRouter(
    prefix="/api/admin",
    tags=["admin: webhooks"],
    dependencies=[Depends(require_admin)],
    responses=ADMIN_ERRORS,
)


@router.post("/webhook-endpoints", status_code=201, responses=_errors(400, 401, 422))
def create_endpoint(data: EndpointCreate, session: DbSession) -> EndpointCreated:
    """A new endpoint with its signing secret (`whsec_…`); `events` missing: every type."""
    endpoint = service.create_endpoint(session, data.url, data.events, data.description)
    return EndpointCreated.model_validate(endpoint)


@router.get("/webhook-endpoints", responses=_errors(400, 401, 422))
def list_endpoints(session: ReadSession, paging: PageParams) -> PageOf[EndpointRead]:
    """Every endpoint, newest first (secrets are not shown)."""
    found = service.list_endpoints(session, limit=paging.limit, cursor=paging.cursor)
    return PageOf[EndpointRead](
        items=[EndpointRead.model_validate(e) for e in found.items], next_cursor=found.next_cursor
    )


@router.get("/webhook-endpoints/{endpoint_id}", responses=_errors(401, 404, 422))
def get_endpoint(endpoint_id: EndpointId, session: ReadSession) -> EndpointRead:
    """One endpoint (without its secret)."""
    return EndpointRead.model_validate(service.get_endpoint(session, endpoint_id))


@router.get("/webhook-endpoints/{endpoint_id}/secret", responses=_errors(401, 404, 422))
def get_secret(endpoint_id: EndpointId, session: ReadSession) -> EndpointSecret:
    """The endpoint's signing secret, shown once more on request."""
    endpoint = service.get_endpoint(session, endpoint_id)
    return EndpointSecret(id=endpoint.id, secret=endpoint.secret)


@router.patch("/webhook-endpoints/{endpoint_id}", responses=_errors(400, 401, 404, 422))
def update_endpoint(
    endpoint_id: EndpointId, data: EndpointUpdate, session: DbSession
) -> EndpointRead:
    """Change `url`, `events`, `description` or `enabled`; enabling ends a run of failures."""
    changes = data.model_dump(exclude_unset=True)
    return EndpointRead.model_validate(service.update_endpoint(session, endpoint_id, changes))


@router.delete(
    "/webhook-endpoints/{endpoint_id}", status_code=204, responses=_errors(401, 404, 422)
)
def delete_endpoint(endpoint_id: EndpointId, session: DbSession) -> Response:
    """The endpoint and its delivery log."""
    service.delete_endpoint(session, endpoint_id)
    return Response(status_code=204)


@router.post(
    "/webhook-endpoints/{endpoint_id}/test",
    status_code=202,
    responses=_errors(401, 404, 409, 422),
)
def test_endpoint(endpoint_id: EndpointId, session: DbSession) -> DeliveryRead:
    """A `ping` event to this endpoint only; the answer is its delivery, about to be sent."""
    return DeliveryRead.model_validate(service.send_test(session, endpoint_id))


@router.get("/webhook-endpoints/{endpoint_id}/deliveries", responses=_errors(400, 401, 404, 422))
def list_deliveries(
    endpoint_id: EndpointId, session: ReadSession, paging: PageParams
) -> PageOf[DeliveryRead]:
    """The endpoint's deliveries, newest first."""
    found = service.list_deliveries(session, endpoint_id, limit=paging.limit, cursor=paging.cursor)
    return PageOf[DeliveryRead](
        items=[DeliveryRead.model_validate(d) for d in found.items], next_cursor=found.next_cursor
    )


@router.post("/webhook-deliveries/{delivery_id}/retry", responses=_errors(401, 404, 409, 422))
def retry_delivery(delivery_id: DeliveryId, session: DbSession) -> DeliveryRead:
    """Try a FAILED or PENDING delivery again now."""
    return DeliveryRead.model_validate(service.retry_delivery(session, delivery_id))
