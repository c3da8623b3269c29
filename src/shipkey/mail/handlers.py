"""The worker's side of e-mail: the ``mail.send`` job and the seller's failure alerts."""

from __future__ import annotations

import logging
from typing import Any

from sqlalchemy.orm import Session

from shipkey.hooks import emit
from shipkey.hooks.delivery import alert_wanted
from shipkey.hooks.models import WebhookDelivery, WebhookEndpoint
from shipkey.hooks.outbox import DELIVER_JOB
from shipkey.jobs.models import Job
from shipkey.jobs.registry import JobContext, Recorder, Registry
from shipkey.jobs.service import describe
from shipkey.mail import service
from shipkey.mail.models import MailKind, MailMessage, MailStatus
from shipkey.mail.schemas import DeliveryRead
from shipkey.mail.senders import Outgoing, build_email, close_connection, sender_for

log = logging.getLogger(__name__)


def register(registry: Registry) -> None:
    registry.register(service.SEND_JOB, send, on_give_up=message_failed)
    registry.on_any_give_up(alert_seller)
    registry.on_stop(close_connection)


def _message_id(job: Job) -> str:
    return str(job.payload["message_id"])


def _outgoing(ctx: JobContext, message_id: str) -> Outgoing | None:
    with ctx.db.read_session() as session:
        message = session.get(MailMessage, message_id)
        if message is None or message.status is not MailStatus.PENDING:
            return None
        return Outgoing(
            id=message.id,
            to_address=message.to_address,
            subject=message.subject,
            text_body=message.text_body,
            html_body=message.html_body,
            created_at=message.created_at,
        )


def send(ctx: JobContext, job: Job) -> Recorder | None:
    """Send one outbox message; the database is touched only before and after the I/O. The
    message is marked SENT in the transaction that finishes the job."""
    message_id = _message_id(job)
    outgoing = _outgoing(ctx, message_id)
    if outgoing is None:
        log.info("mail %s is no longer pending; nothing to send", message_id)
        return None
    email = build_email(outgoing, ctx.settings)
    try:
        sender_for(ctx.settings).send(email)
    except Exception as exc:
        with ctx.db.session() as session:
            service.record_error(session, message_id, describe(exc))
        raise
    header_id, sent_at = str(email["Message-ID"]), ctx.now()
    return lambda session: service.mark_sent(session, message_id, header_id, sent_at)


def message_failed(session: Session, _ctx: JobContext, job: Job) -> None:
    """The send job gave up: the message is FAILED with the last error; a delivery e-mail's
    failure is a ``delivery.failed`` event for the seller's systems."""
    message = service.mark_failed(session, _message_id(job), job.last_error)
    if message is not None and message.kind == MailKind.DELIVERY:
        data = DeliveryRead.model_validate(message).model_dump(mode="json", by_alias=True)
        emit(session, "delivery.failed", data)


def _failure(session: Session, job: Job) -> dict[str, Any] | None:
    """What the seller is told about ``job``; None for a failed alert (never alert about one)."""
    if job.kind == DELIVER_JOB:
        return _webhook_failure(session, job)
    if job.kind != service.SEND_JOB:
        return {"failure": "job", "job_kind": job.kind, "job_id": job.id}
    message = session.get(MailMessage, _message_id(job))
    if message is None or message.kind == MailKind.SELLER_ALERT:
        return None
    return {
        "failure": "mail",
        "to_address": message.to_address,
        "mail_subject": message.subject,
        "purchase_id": message.purchase_id,
    }


def _webhook_failure(session: Session, job: Job) -> dict[str, Any] | None:
    delivery = session.get(WebhookDelivery, str(job.payload["delivery"]), populate_existing=True)
    if delivery is None:
        return {"failure": "job", "job_kind": job.kind, "job_id": job.id}
    endpoint = session.get(WebhookEndpoint, delivery.endpoint_id)
    return {
        "failure": "webhook",
        "endpoint_url": endpoint.url if endpoint is not None else "",
        "endpoint_disabled": endpoint is not None and not endpoint.enabled,
        "event_type": delivery.type,
        "event_id": delivery.event_id,
        "attempts": delivery.attempts,
        "error": delivery.last_error or job.last_error or "",
        "deliveries_url": f"/admin/webhook-endpoints/{delivery.endpoint_id}",
    }


def alert_seller(session: Session, ctx: JobContext, job: Job) -> None:
    """E-mail ``SHIPKEY_ADMIN_EMAIL`` about a job that failed for good."""
    if job.kind == DELIVER_JOB and not alert_wanted(session, job):
        return
    failure = _failure(session, job)
    if failure is None:
        log.error("job %s: a seller alert could not be sent: %s", job.id, job.last_error)
        return
    context = {"error": job.last_error or "", "attempts": job.attempts, **failure}
    if str(context.get("deliveries_url", "")).startswith("/"):
        context["deliveries_url"] = ctx.settings.base_url + str(context["deliveries_url"])
    if service.queue_seller_alert(session, ctx.settings, context) is None:
        log.error(
            "job %s (%s) failed for good and SHIPKEY_ADMIN_EMAIL is unset: %s",
            job.id,
            job.kind,
            job.last_error,
        )
