"""The outbox: e-mail is rendered and written in the caller's transaction with a ``mail.send``
job, so a message exists exactly when the change that caused it commits. The worker sends it.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any, Literal, NamedTuple

from sqlalchemy import case, select, update
from sqlalchemy.orm import Session

from shipkey.clock import utcnow
from shipkey.config import Settings
from shipkey.db.writes import insert_row, rowcount
from shipkey.errors import Conflict, NotFound
from shipkey.i18n import normalise_locale
from shipkey.ids import new_id
from shipkey.jobs import service as jobs
from shipkey.jobs.models import Job, JobStatus
from shipkey.mail.models import MailKind, MailMessage, MailStatus
from shipkey.mail.render import fit_for_address, render
from shipkey.orders.models import Purchase
from shipkey.orders.service import purchase_url

SEND_JOB = "mail.send"
LOGIN_LINK_MINUTES = 30


class DeliveredLink(NamedTuple):
    url: str
    expires_at: datetime


class DeliveredLicense(NamedTuple):
    key: str
    expires_at: datetime | None


class AccessLink(NamedTuple):
    title: str
    url: str


# --- the outbox ----------------------------------------------------------------------------


def queue_mail(
    session: Session,
    kind: str,
    to: str,
    locale: str,
    context: dict[str, Any],
    purchase_id: str | None = None,
) -> MailMessage:
    """Render ``kind`` for ``to`` and put it in the outbox, in the caller's transaction."""
    if not fit_for_address(to):  # a line break (or any control character) could add headers
        raise ValueError(f"not an e-mail address: {to!r}")
    locale = normalise_locale(locale)
    rendered = render(kind, locale, context)
    message_id = new_id("msg")
    job = jobs.enqueue(session, SEND_JOB, {"message_id": message_id})
    return insert_row(
        session,
        MailMessage,
        {
            "id": message_id,
            "kind": kind,
            "to_address": to,
            "locale": locale,
            "subject": rendered.subject[:300],
            "text_body": rendered.text,
            "html_body": rendered.html,
            "purchase_id": purchase_id,
            "status": MailStatus.PENDING,
            "attempts": 0,
            "created_at": utcnow(),
            "job_id": job.id,
        },
    )


def get_message(session: Session, message_id: str) -> MailMessage:
    message = session.get(MailMessage, message_id) if len(message_id) <= 32 else None
    if message is None:
        raise NotFound(f"No e-mail {message_id!r}.", "MAIL_NOT_FOUND")
    return message


def list_messages(
    session: Session, status: MailStatus | None = None, limit: int = 100
) -> list[MailMessage]:
    """The outbox for the seller: failed messages first, then pending, then sent; newest first."""
    query = select(MailMessage)
    if status is not None:
        query = query.where(MailMessage.status == status)
    rank = case(
        (MailMessage.status == MailStatus.FAILED, 0),
        (MailMessage.status == MailStatus.PENDING, 1),
        else_=2,
    )
    query = query.order_by(rank, MailMessage.created_at.desc(), MailMessage.id).limit(limit)
    return list(session.scalars(query))


def retry(session: Session, message_id: str, now: datetime | None = None) -> MailMessage:
    """Send a failed message again (a fresh round of attempts), or a pending one right now.

    409 ``MAIL_ALREADY_SENT`` for a sent message.
    """
    now = now or utcnow()
    message = get_message(session, message_id)
    if message.status is MailStatus.SENT:
        raise Conflict("This e-mail was already sent.", "MAIL_ALREADY_SENT")
    if message.status is MailStatus.FAILED:
        reopened = session.execute(
            update(MailMessage)
            .where(MailMessage.id == message.id, MailMessage.status == MailStatus.FAILED)
            .values(status=MailStatus.PENDING)
            .execution_options(synchronize_session=False)
        )
        session.refresh(message)
        if rowcount(reopened) == 1:
            message.job_id = jobs.enqueue(session, SEND_JOB, {"message_id": message.id}).id
        return message
    _hurry(session, message, now)
    return message


def _hurry(session: Session, message: MailMessage, now: datetime) -> None:
    """Make a pending message's job due now (a new job if it has none that can still run)."""
    job = session.get(Job, message.job_id) if message.job_id else None
    if job is None or job.status in (JobStatus.DONE, JobStatus.FAILED):
        message.job_id = jobs.enqueue(session, SEND_JOB, {"message_id": message.id}).id
        return
    if job.status is JobStatus.QUEUED:
        session.execute(
            update(Job)
            .where(Job.id == job.id, Job.status == JobStatus.QUEUED)
            .values(run_at=now)
            .execution_options(synchronize_session=False)
        )
        jobs.ring_on_commit(session)


# --- what shipkey writes -------------------------------------------------------------------


def locale_for(settings: Settings, purchase: Purchase) -> str:
    """The purchase's own locale when it has one we speak, else ``SHIPKEY_DEFAULT_LOCALE``."""
    return normalise_locale(purchase.locale, settings.default_locale)


def support_address(settings: Settings) -> str | None:
    """Where buyers write (``Settings.support_address``): None when no address is set, and
    then no e-mail asks them to write (the sender is often a no-reply address)."""
    return settings.support_address


def _purchase_context(settings: Settings, purchase: Purchase) -> dict[str, Any]:
    return {
        "base_url": settings.base_url,
        "support": support_address(settings),
        "purchase_id": purchase.id,
        "purchase_url": purchase_url(settings, purchase.id),
        "product_name": purchase.product.name,
        "buyer_name": purchase.name,
        "imprint": settings.seller_imprint,
        "consent": purchase.consent,
        "invoice_url": purchase.invoice_url,
    }


def delivery_context(
    settings: Settings,
    purchase: Purchase,
    links: Sequence[tuple[str, datetime]],
    licenses: Sequence[tuple[str, datetime | None]],
    access: Sequence[tuple[str, str]],
) -> dict[str, Any]:
    """What the delivery e-mail shows: download links (url, expires at), license keys (key,
    expires at or None), access links (title, url), and the purchase page."""
    return {
        **_purchase_context(settings, purchase),
        "links": [DeliveredLink(*link) for link in links],
        "licenses": [DeliveredLicense(*license) for license in licenses],
        "access": [AccessLink(*item) for item in access],
    }


def _recipient(purchase: Purchase) -> str:
    if not purchase.email:
        raise ValueError(f"purchase {purchase.id} has no e-mail address yet")
    return purchase.email


def queue_delivery(
    session: Session,
    settings: Settings,
    purchase: Purchase,
    links: Sequence[tuple[str, datetime]],
    licenses: Sequence[tuple[str, datetime | None]],
    access: Sequence[tuple[str, str]],
) -> MailMessage:
    """Put the delivery e-mail for ``purchase`` in the outbox (call it inside fulfilment)."""
    context = delivery_context(settings, purchase, links, licenses, access)
    locale = locale_for(settings, purchase)
    return queue_mail(
        session, MailKind.DELIVERY, _recipient(purchase), locale, context, purchase.id
    )


def queue_payment_failed(session: Session, settings: Settings, purchase: Purchase) -> MailMessage:
    """Tell the buyer that the payment failed and nothing was delivered."""
    context = _purchase_context(settings, purchase)
    locale = locale_for(settings, purchase)
    return queue_mail(
        session, MailKind.PAYMENT_FAILED, _recipient(purchase), locale, context, purchase.id
    )


def queue_revoked(
    session: Session,
    settings: Settings,
    purchase: Purchase,
    reason: Literal["refund", "dispute"] = "refund",
) -> MailMessage:
    """Tell the buyer that a refund (or a lost dispute) ended their downloads and licenses."""
    context = {**_purchase_context(settings, purchase), "reason": reason}
    locale = locale_for(settings, purchase)
    return queue_mail(session, MailKind.REVOKED, _recipient(purchase), locale, context, purchase.id)


def queue_login(
    session: Session, settings: Settings, email: str, locale: str | None, url: str
) -> MailMessage:
    """The buyer's sign-in link."""
    context = {
        "base_url": settings.base_url,
        "support": support_address(settings),
        "imprint": settings.seller_imprint,
        "url": url,
        "minutes": LOGIN_LINK_MINUTES,
    }
    locale = normalise_locale(locale, settings.default_locale)
    return queue_mail(session, MailKind.LOGIN, email, locale, context)


def queue_seller_alert(
    session: Session, settings: Settings, context: dict[str, Any]
) -> MailMessage | None:
    """Alert ``SHIPKEY_ADMIN_EMAIL`` (None when it is unset). ``context`` describes the failure:
    ``failure`` ("mail" or "job"), ``error``, ``attempts`` and the fields its template uses."""
    if not settings.admin_email:
        return None
    values = {
        "base_url": settings.base_url,
        "support": support_address(settings),
        "imprint": settings.seller_imprint,
        "deliveries_url": f"{settings.base_url}/admin/deliveries",
        "purchase_id": None,
        **context,
    }
    return queue_mail(
        session, MailKind.SELLER_ALERT, settings.admin_email, settings.default_locale, values
    )


def _to_seller(
    session: Session, settings: Settings, kind: MailKind, context: dict[str, Any]
) -> MailMessage | None:
    if not settings.admin_email:
        return None
    values = {"base_url": settings.base_url, "support": support_address(settings), **context}
    return queue_mail(session, kind, settings.admin_email, settings.default_locale, values)


def queue_risk_flagged(
    session: Session, settings: Settings, context: dict[str, Any]
) -> MailMessage | None:
    """Tell ``SHIPKEY_ADMIN_EMAIL`` a risk rule was hit (None when it is unset). ``context``:
    ``what``, ``purchase_id``, ``license_key``, ``evidence`` (lines), ``suspended``."""
    return _to_seller(
        session,
        settings,
        MailKind.RISK_FLAGGED,
        {"risk_url": f"{settings.base_url}/admin/risk", **context},
    )


def queue_dispute_evidence(
    session: Session, settings: Settings, purchase_id: str, dispute_id: str
) -> MailMessage | None:
    """Tell the seller the evidence is attached to a dispute, with its link in Stripe."""
    return _to_seller(
        session,
        settings,
        MailKind.DISPUTE_EVIDENCE,
        {
            "purchase_id": purchase_id,
            "dispute_url": f"https://dashboard.stripe.com/disputes/{dispute_id}",
        },
    )


def queue_fraud_refund(session: Session, settings: Settings, purchase: Purchase) -> MailMessage:
    """Tell the buyer the payment was refunded after the bank's early fraud warning."""
    context = _purchase_context(settings, purchase)
    locale = locale_for(settings, purchase)
    return queue_mail(
        session, MailKind.FRAUD_REFUND, _recipient(purchase), locale, context, purchase.id
    )


# --- recording attempts (the worker) --------------------------------------------------------


def mark_sent(session: Session, message_id: str, header_id: str, now: datetime) -> bool:
    """PENDING → SENT; False when it was not pending (already sent, or given up)."""
    result = session.execute(
        update(MailMessage)
        .where(MailMessage.id == message_id, MailMessage.status == MailStatus.PENDING)
        .values(
            status=MailStatus.SENT,
            sent_at=now,
            message_id=header_id,
            attempts=MailMessage.attempts + 1,
        )
        .execution_options(synchronize_session=False)
    )
    return rowcount(result) == 1


def record_error(session: Session, message_id: str, error: str) -> None:
    session.execute(
        update(MailMessage)
        .where(MailMessage.id == message_id, MailMessage.status == MailStatus.PENDING)
        .values(attempts=MailMessage.attempts + 1, last_error=error)
        .execution_options(synchronize_session=False)
    )


def mark_failed(session: Session, message_id: str, error: str | None) -> MailMessage | None:
    """PENDING → FAILED (the worker gave up); the message, or None if it was not pending."""
    session.execute(
        update(MailMessage)
        .where(MailMessage.id == message_id, MailMessage.status == MailStatus.PENDING)
        .values(status=MailStatus.FAILED, last_error=error)
        .execution_options(synchronize_session=False)
    )
    return session.get(MailMessage, message_id, populate_existing=True)
