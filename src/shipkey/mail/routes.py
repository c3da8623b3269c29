"""Admin API: the e-mail outbox (deliveries and failures) and retrying a message."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query

from shipkey.admin.auth import ADMIN_ERRORS, require_admin
from shipkey.http.deps import DbSession, ReadSession
from shipkey.http.openapi import errors
from shipkey.mail import service
from shipkey.mail.models import MailStatus
from shipkey.mail.schemas import DeliveryRead, StatusFilter

router = APIRouter(
    prefix="/api/admin/deliveries",
    tags=["admin: deliveries"],
    dependencies=[Depends(require_admin)],
    responses=ADMIN_ERRORS,
)


@router.get("")
def list_deliveries(
    session: ReadSession,
    status: Annotated[
        StatusFilter | None, Query(description="Only messages in this state.")
    ] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> list[DeliveryRead]:
    """Outgoing e-mail, failed first, then pending, then sent; newest first."""
    wanted = MailStatus(status.upper()) if status else None
    return [DeliveryRead.model_validate(m) for m in service.list_messages(session, wanted, limit)]


@router.post(
    "/{message_id}/retry",
    responses=errors(
        (404, "No such e-mail (`MAIL_NOT_FOUND`)."), (409, "Already sent (`MAIL_ALREADY_SENT`).")
    ),
)
def retry_delivery(message_id: str, session: DbSession) -> DeliveryRead:
    """Send a failed message again, or a pending one now; 409 when it was already sent."""
    return DeliveryRead.model_validate(service.retry(session, message_id))
