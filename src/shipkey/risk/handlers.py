"""The worker's side of risk: evaluating the rules after something was recorded."""

from __future__ import annotations

from shipkey.jobs.kinds import RISK_CHECK
from shipkey.jobs.models import Job
from shipkey.jobs.registry import JobContext, Registry
from shipkey.risk import service


def register(registry: Registry) -> None:
    registry.register(RISK_CHECK, check)


def check(ctx: JobContext, job: Job) -> None:
    """Run the rules for the purchase or license the job names (a hit opens an event once)."""
    with ctx.db.session() as session:
        purchase_id = job.payload.get("purchase_id")
        license_id = job.payload.get("license_id")
        if isinstance(purchase_id, str):
            service.check_purchase(session, ctx.settings, purchase_id, ctx.now())
        if isinstance(license_id, str):
            service.check_license(session, ctx.settings, license_id, ctx.now())
