"""Network addresses and user agents are kept only as long as they are needed.

After ``SHIPKEY_IP_RETENTION_DAYS`` (default 30) the addresses recorded with downloads, license
activations and sign-ins are cut to their network — IPv4 to the /24 (203.0.113.57 → 203.0.113.0),
IPv6 to the /48 — and user agents are dropped. The ``privacy.retention`` job does it once a
day: each run handles the rows that became old since the one before (with a day's overlap;
cutting twice changes nothing) and queues the next run for 03:00 UTC the next day. A worker
queues the next run when it starts (one job per day however many start), so the chain begins by
itself.
"""

from __future__ import annotations

import ipaddress
import logging
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from typing import Any

from sqlalchemy import or_, select, update
from sqlalchemy.orm import Session

from shipkey.downloads.models import Download
from shipkey.jobs import service as jobs
from shipkey.jobs.models import Job
from shipkey.jobs.registry import JobContext, Registry
from shipkey.licensing.models import LicenseActivation
from shipkey.portal.models import LoginToken

RETENTION_JOB = "privacy.retention"
RUN_AT = time(3, 0)
OVERLAP = timedelta(days=1)
BATCH = 500

log = logging.getLogger(__name__)


def cut_ip(value: str | None) -> str | None:
    """The network of an address: /24 for IPv4 (IPv4-mapped IPv6 too), /48 for IPv6; None for
    anything that is not an address."""
    if not value:
        return None
    try:
        address = ipaddress.ip_address(value.strip())
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    prefix = 24 if address.version == 4 else 48
    return str(ipaddress.ip_network(f"{address}/{prefix}", strict=False).network_address)


@dataclass(frozen=True)
class Kept:
    """A table that records who asked: its time column, address column, user agent column."""

    model: Any
    at: str
    ip: str
    user_agent: str | None


KEPT: tuple[Kept, ...] = (
    Kept(Download, "created_at", "ip_address", "user_agent"),
    Kept(LicenseActivation, "activated_at", "ip", None),
    Kept(LoginToken, "used_at", "ip_address", "user_agent"),
)
"""Every place a buyer's network address or user agent is kept (see the README's table)."""


def pseudonymise(session: Session, before: datetime, since: datetime | None = None) -> int:
    """Cut the addresses and drop the user agents recorded before ``before`` (and at or after
    ``since``); how many rows changed."""
    changed = 0
    for kept in KEPT:
        model = kept.model
        at = getattr(model, kept.at)
        ip = getattr(model, kept.ip)
        columns = [model.id, ip]
        personal = [ip.is_not(None)]
        if kept.user_agent:
            agent = getattr(model, kept.user_agent)
            columns.append(agent)
            personal.append(agent.is_not(None))
        query = select(*columns).where(at < before, or_(*personal)).order_by(model.id)
        if since is not None:
            query = query.where(at >= since)
        after = ""
        while True:
            rows = session.execute(query.where(model.id > after).limit(BATCH)).all()
            if not rows:
                break
            updates = []
            for row in rows:
                values: dict[str, Any] = {}
                cut = cut_ip(row[1])
                if cut != row[1]:
                    values[kept.ip] = cut
                if kept.user_agent and row[2] is not None:
                    values[kept.user_agent] = None
                if values:
                    updates.append({"id": row[0], **values})
            for values in updates:
                session.execute(
                    update(model)
                    .where(model.id == values["id"])
                    .values({k: v for k, v in values.items() if k != "id"})
                    .execution_options(synchronize_session=False)
                )
            changed += len(updates)
            after = rows[-1][0]
    return changed


# --- the daily job ---------------------------------------------------------------------------


def register(registry: Registry) -> None:
    registry.register(RETENTION_JOB, run)
    registry.on_start(_schedule_from_start)


def next_run(now: datetime) -> datetime:
    """The next 03:00 UTC after ``now``."""
    today = datetime.combine(now.date(), RUN_AT, tzinfo=now.tzinfo)
    return today if today > now else today + timedelta(days=1)


def _schedule_from_start(ctx: JobContext) -> None:
    with ctx.db.session() as session:
        schedule_next(session, ctx)


def schedule_next(session: Session, ctx: JobContext) -> Job:
    """The next run, at 03:00 UTC (nothing new when it is queued already: one job per day)."""
    when = next_run(ctx.now())
    return jobs.enqueue_daily(session, RETENTION_JOB, when.date(), RUN_AT)


def run(ctx: JobContext, job: Job) -> None:
    now = ctx.now()
    cutoff = now - timedelta(days=ctx.settings.ip_retention_days)
    since_text = job.payload.get("since")
    since = datetime.fromisoformat(since_text) if isinstance(since_text, str) else None
    with ctx.db.session() as session:
        changed = pseudonymise(session, cutoff, since)
        when = next_run(now)
        jobs.enqueue(
            session,
            RETENTION_JOB,
            {"since": (cutoff - OVERLAP).isoformat()},
            run_at=when,
            dedupe_key=f"{RETENTION_JOB}:{when.date()}",
        )
    log.info("retention: %d rows older than %s cut", changed, cutoff.isoformat())
