"""The seller's state changes of one license: suspend, reinstate, revoke.

Each is a conditional UPDATE from the states it may leave, in the caller's transaction; the
license object is refreshed afterwards. Doing the same change twice changes nothing; a change
the license's state does not allow is 409 ``INVALID_LICENSE_STATE``.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import update
from sqlalchemy.orm import Session

from shipkey.clock import utcnow
from shipkey.db.writes import rowcount
from shipkey.errors import Conflict
from shipkey.licensing import events
from shipkey.licensing.models import License, LicenseStatus
from shipkey.licensing.refusals import record_expiry

SUSPEND_FROM = (LicenseStatus.ACTIVE, LicenseStatus.EXPIRED)
REINSTATE_FROM = (LicenseStatus.SUSPENDED,)
REVOKE_FROM = (LicenseStatus.ACTIVE, LicenseStatus.SUSPENDED, LicenseStatus.EXPIRED)

CHANGES: dict[str, tuple[tuple[LicenseStatus, ...], str]] = {
    "suspend": (SUSPEND_FROM, "suspended"),
    "reinstate": (REINSTATE_FROM, "reinstated"),
    "revoke": (REVOKE_FROM, "revoked"),
}
"""Each change: the states it leaves, and its past participle for the refusal."""


def allowed_changes(lic: License) -> frozenset[str]:
    """The changes that would change the license now (the seller's pages offer only these)."""
    return frozenset(name for name, (sources, _) in CHANGES.items() if lic.status in sources)


def ensure_allowed(lic: License, change: str) -> None:
    """409 ``INVALID_LICENSE_STATE`` unless ``change`` would change the license now; the pages
    ask this before a change, where doing it twice is a stale button rather than a retry."""
    if change in CHANGES and change not in allowed_changes(lic):
        raise _invalid_state(lic, CHANGES[change][1])


def _transition(
    session: Session,
    lic: License,
    sources: tuple[LicenseStatus, ...],
    values: dict[str, object],
) -> bool:
    result = session.execute(
        update(License)
        .where(License.id == lic.id, License.status.in_(sources))
        .values(**values)
        .execution_options(synchronize_session=False)
    )
    session.refresh(lic)
    return rowcount(result) == 1


def _invalid_state(lic: License, action: str) -> Conflict:
    return Conflict(
        f"A {lic.status.value} license cannot be {action}.",
        "INVALID_LICENSE_STATE",
        status=lic.status.value,
    )


def suspend(session: Session, lic: License, now: datetime | None = None) -> License:
    """ACTIVE or EXPIRED → SUSPENDED (a dispute, abuse). Suspending twice changes nothing."""
    values: dict[str, object] = {"status": LicenseStatus.SUSPENDED, "suspended_at": now or utcnow()}
    changed = _transition(session, lic, SUSPEND_FROM, values)
    if not changed and lic.status is not LicenseStatus.SUSPENDED:
        raise _invalid_state(lic, "suspended")
    if changed:
        events.announce(session, "license.suspended", lic)
    return lic


def reinstate(session: Session, lic: License, now: datetime | None = None) -> License:
    """SUSPENDED → ACTIVE (or EXPIRED, when its time ran out meanwhile). REVOKED stays: 409."""
    now = now or utcnow()
    values: dict[str, object] = {"status": LicenseStatus.ACTIVE, "suspended_at": None}
    if _transition(session, lic, REINSTATE_FROM, values):
        if record_expiry(session, lic.id, now):
            session.refresh(lic)
        events.announce(session, "license.reinstated", lic)
        return lic
    if lic.status is not LicenseStatus.ACTIVE:
        raise _invalid_state(lic, "reinstated")
    return lic


def revoke(session: Session, lic: License, now: datetime | None = None) -> License:
    """Any status → REVOKED, for good. Revoking twice changes nothing."""
    values: dict[str, object] = {"status": LicenseStatus.REVOKED, "revoked_at": now or utcnow()}
    if _transition(session, lic, REVOKE_FROM, values):
        events.announce(session, "license.revoked", lic)
    return lic
