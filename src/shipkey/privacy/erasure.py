"""The worker's part of an erasure: deleting the buyer's stamped copies from storage."""

from __future__ import annotations

import logging

from shipkey.downloads.copies import discard_copy
from shipkey.jobs.models import Job
from shipkey.jobs.registry import JobContext, Registry
from shipkey.privacy.service import DISCARD_COPIES_JOB

log = logging.getLogger(__name__)


def register(registry: Registry) -> None:
    registry.register(DISCARD_COPIES_JOB, discard_copies)


def discard_copies(ctx: JobContext, job: Job) -> None:
    for purchase_id in job.payload.get("purchase_ids") or []:
        if discard_copy(ctx.db, ctx.storage, str(purchase_id)):
            log.info("stamped copy for %s deleted (erasure)", purchase_id)
