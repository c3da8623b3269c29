"""The worker's side of risk: evaluating the rules after something was recorded, and after a
sale was delivered (in the job that sends its delivery e-mail, the one job every sale has)."""

from __future__ import annotations

from sqlalchemy.orm import Session

from shipkey.jobs.kinds import RISK_CHECK, SIGN_IN_KEY
from shipkey.jobs.models import Job
from shipkey.jobs.registry import JobContext, Registry
from shipkey.mail.service import SALE_KEY, SEND_JOB
from shipkey.risk import service


def register(registry: Registry) -> None:
    registry.register(RISK_CHECK, check)
    registry.on_done(SEND_JOB, sale_delivered)


def sale_delivered(session: Session, ctx: JobContext, job: Job) -> None:
    """A sale's delivery e-mail was sent: the sale's rules, in the transaction that records it
    (nothing for any other e-mail)."""
    purchase_id = job.payload.get(SALE_KEY)
    if isinstance(purchase_id, str):
        service.check_sale(session, ctx.settings, purchase_id, ctx.now())


def check(ctx: JobContext, job: Job) -> None:
    """Run the rules for the purchase, license or signed-in buyer the job names (a hit opens an
    event once)."""
    with ctx.db.session() as session:
        purchase_id = job.payload.get("purchase_id")
        license_id = job.payload.get("license_id")
        if isinstance(purchase_id, str):
            service.check_purchase(session, ctx.settings, purchase_id, ctx.now())
        if isinstance(license_id, str):
            service.check_license(session, ctx.settings, license_id, ctx.now())
        email = job.payload.get(SIGN_IN_KEY)
        if isinstance(email, str):
            service.check_sign_in(session, ctx.settings, email, ctx.now())
