"""The worker's side of risk: evaluating the rules after something was recorded (a download, a
deactivation, validations from new networks, a sign-in, a sale delivered)."""

from __future__ import annotations

from shipkey.jobs.kinds import RISK_CHECK, SALE_KEY, SIGN_IN_KEY
from shipkey.jobs.models import Job
from shipkey.jobs.registry import JobContext, Registry
from shipkey.risk import service


def register(registry: Registry) -> None:
    registry.register(RISK_CHECK, check)


def check(ctx: JobContext, job: Job) -> None:
    """Run the rules for the purchase, license, sale or signed-in buyer the job names (a hit
    opens an event once)."""
    with ctx.db.session() as session:
        purchase_id = job.payload.get("purchase_id")
        license_id = job.payload.get("license_id")
        if isinstance(purchase_id, str):
            service.check_purchase(session, ctx.settings, purchase_id, ctx.now())
        if isinstance(license_id, str):
            service.check_license(session, ctx.settings, license_id, ctx.now())
        sale = job.payload.get(SALE_KEY)
        if isinstance(sale, str):
            service.check_sale(session, ctx.settings, sale, ctx.now())
        email = job.payload.get(SIGN_IN_KEY)
        if isinstance(email, str):
            service.check_sign_in(session, ctx.settings, email, ctx.now())
