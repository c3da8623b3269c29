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
from shipkey.licensing.models import License, LicenseStatus
from shipkey.licensing.refusals import record_expiry


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
    sources = (LicenseStatus.ACTIVE, LicenseStatus.EXPIRED)
    values: dict[str, object] = {"status": LicenseStatus.SUSPENDED, "suspended_at": now or utcnow()}
    if not _transition(session, lic, sources, values) and lic.status is not LicenseStatus.SUSPENDED:
        raise _invalid_state(lic, "suspended")
    return lic


def reinstate(session: Session, lic: License, now: datetime | None = None) -> License:
    """SUSPENDED → ACTIVE (or EXPIRED, when its time ran out meanwhile). REVOKED stays: 409."""
    now = now or utcnow()
    values: dict[str, object] = {"status": LicenseStatus.ACTIVE, "suspended_at": None}
    if _transition(session, lic, (LicenseStatus.SUSPENDED,), values):
        if record_expiry(session, lic.id, now):
            session.refresh(lic)
        return lic
    if lic.status is not LicenseStatus.ACTIVE:
        raise _invalid_state(lic, "reinstated")
    return lic


def revoke(session: Session, lic: License, now: datetime | None = None) -> License:
    """Any status → REVOKED, for good. Revoking twice changes nothing."""
    sources = (LicenseStatus.ACTIVE, LicenseStatus.SUSPENDED, LicenseStatus.EXPIRED)
    values: dict[str, object] = {"status": LicenseStatus.REVOKED, "revoked_at": now or utcnow()}
    _transition(session, lic, sources, values)
    return lic
