"""Stripe's fraud signals: an early fraud warning suspends the purchase's goods at once (and,
with ``SHIPKEY_REFUND_ON_FRAUD_WARNING=on``, refunds the payment before a dispute can be
opened); a dispute gets the purchase's evidence attached, for the seller to review and submit.

The calls to Stripe run in jobs, outside the webhook's transaction; each is idempotent (a job
per warning or dispute, and Stripe's idempotency keys).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import exists, select
from sqlalchemy.orm import Session

from shipkey.config import Settings
from shipkey.jobs import service as jobs
from shipkey.jobs.models import Job
from shipkey.jobs.registry import JobContext, PermanentError, Recorder
from shipkey.mail import service as mail
from shipkey.mail.models import MailKind, MailMessage
from shipkey.orders.models import Purchase, PurchaseStatus
from shipkey.payments import lookups
from shipkey.payments.gateway import StripeGateway
from shipkey.payments.models import EventStatus
from shipkey.payments.outcomes import Outcome
from shipkey.payments.stripe_objects import ref, text
from shipkey.payments.webhooks import StripeEvent
from shipkey.risk import evidence as risk_evidence
from shipkey.risk import service as risk

REFUND_JOB = "stripe.fraud_refund"
EVIDENCE_JOB = "stripe.dispute_evidence"


def early_fraud_warning(
    session: Session, settings: Settings, event: StripeEvent, now: datetime
) -> Outcome:
    """``radar.early_fraud_warning.created``: the purchase's goods suspended; refunded when
    ``SHIPKEY_REFUND_ON_FRAUD_WARNING=on`` and the warning is still actionable."""
    obj = event.object
    purchase = lookups.for_payment(session, obj)
    warning_id = text(obj.get("id")) or event.id
    details = {
        "warning": warning_id,
        "fraudType": text(obj.get("fraud_type")),
        "charge": ref(obj.get("charge")),
        "paymentIntent": ref(obj.get("payment_intent")),
        "actionable": obj.get("actionable") is True,
    }
    risk.fraud_warning(session, settings, purchase, details, now)
    intent = ref(obj.get("payment_intent")) or purchase.stripe_payment_intent_id
    refundable = purchase.status in (PurchaseStatus.COMPLETED, PurchaseStatus.PENDING)
    if settings.refund_on_fraud_warning == "on" and intent and refundable and details["actionable"]:
        jobs.enqueue(
            session,
            REFUND_JOB,
            {"purchase_id": purchase.id, "payment_intent": intent, "warning": warning_id},
            dedupe_key=f"{REFUND_JOB}:{warning_id}",
        )
    return Outcome(EventStatus.PROCESSED, purchase.id)


def dispute_opened(session: Session, purchase: Purchase, dispute_id: str | None) -> None:
    """Attach the purchase's evidence to the dispute, from a job (once per dispute)."""
    if dispute_id is None:
        return
    jobs.enqueue(
        session,
        EVIDENCE_JOB,
        {"purchase_id": purchase.id, "dispute_id": dispute_id},
        dedupe_key=f"{EVIDENCE_JOB}:{dispute_id}",
    )


def refund_for_warning(ctx: JobContext, job: Job) -> Recorder:
    """Refund the warned payment in full; then tell the buyer (once)."""
    purchase_id = str(job.payload["purchase_id"])
    warning = str(job.payload["warning"])
    StripeGateway(ctx.settings).refund_payment(
        str(job.payload["payment_intent"]), idempotency_key=f"efw-refund-{warning}"
    )

    def record(session: Session) -> None:
        purchase = session.get(Purchase, purchase_id)
        if purchase is None or not purchase.email or _told(session, purchase_id):
            return
        mail.queue_fraud_refund(session, ctx.settings, purchase)

    return record


def _told(session: Session, purchase_id: str) -> bool:
    return bool(
        session.scalar(
            select(
                exists().where(
                    MailMessage.purchase_id == purchase_id,
                    MailMessage.kind == MailKind.FRAUD_REFUND,
                )
            )
        )
    )


def attach_evidence(ctx: JobContext, job: Job) -> Recorder:
    """Fill in the dispute's evidence (not submitted); then e-mail the seller its link."""
    purchase_id = str(job.payload["purchase_id"])
    dispute_id = str(job.payload["dispute_id"])
    with ctx.db.read_session() as session:
        purchase = session.get(Purchase, purchase_id)
        if purchase is None:
            raise PermanentError(f"no purchase {purchase_id}")
        fields = risk_evidence.dispute_evidence(risk_evidence.purchase_evidence(session, purchase))
    StripeGateway(ctx.settings).attach_dispute_evidence(
        dispute_id, fields, idempotency_key=f"dispute-evidence-{dispute_id}"
    )

    def record(session: Session) -> None:
        mail.queue_dispute_evidence(session, ctx.settings, purchase_id, dispute_id)

    return record
