"""Seller webhook events about licenses, with the license as the admin API shows it.

Each is written in the transaction of the change (:func:`shipkey.hooks.emit`). The license is
read and shaped only when an endpoint wants the event; a store without webhooks pays one small
read of its endpoints per change.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, select
from sqlalchemy.orm import Session

from shipkey.clock import utcnow
from shipkey.hooks import emit, listeners
from shipkey.licensing.lookups import list_activations
from shipkey.licensing.models import License
from shipkey.licensing.schemas import LicenseRead


def license_data(session: Session, lic: License, now: datetime | None = None) -> dict[str, Any]:
    read = LicenseRead.detail(lic, list_activations(session, lic.id), now or utcnow())
    return read.model_dump(mode="json", by_alias=True)


def announce(session: Session, event_type: str, lic: License) -> None:
    """``event_type`` about ``lic`` (as it is now) for the endpoints that want it."""
    emit(session, event_type, lambda: license_data(session, lic))


def affected(session: Session, event_type: str, *where: ColumnElement[bool]) -> Sequence[str]:
    """The ids of the licenses a bulk change is about to change, when an endpoint wants to hear
    of it (else none are read)."""
    if not listeners(session, event_type):
        return []
    return session.scalars(select(License.id).where(*where)).all()


def announce_each(session: Session, event_type: str, license_ids: Sequence[str]) -> None:
    """``event_type`` about each license in ``license_ids`` (read after the change)."""
    for license_id in license_ids:
        lic = session.get(License, license_id, populate_existing=True)
        if lic is not None:
            announce(session, event_type, lic)
