"""Requests from many places, through the test's own trusted proxy, and reading what risk left."""

from __future__ import annotations

from typing import Any

import httpx
from fastapi.testclient import TestClient
from sqlalchemy import select

from shipkey.config import Settings
from shipkey.db.engine import Database
from shipkey.hooks.models import OutboundEvent
from shipkey.licensing import sightings
from shipkey.licensing.models import License
from shipkey.mail.models import MailMessage
from shipkey.orders.models import Purchase
from tests.conftest import ADMIN_TOKEN

ADMIN = {"Authorization": f"Bearer {ADMIN_TOKEN}"}


def via_proxy(address: str) -> dict[str, str]:
    """The header the proxy in front of shipkey adds for a client at ``address``."""
    return {"X-Forwarded-For": address}


def download(base: str, token: str, address: str, agent: str = "Firefox") -> httpx.Response:
    return httpx.get(
        f"{base}/api/download/{token}",
        headers={**via_proxy(address), "User-Agent": agent},
        timeout=30,
    )


def validate(base: str, key: str, address: str) -> httpx.Response:
    """A validation from ``address``; its network is written with the next flush (see
    :func:`flush_sightings`)."""
    return httpx.post(
        f"{base}/api/licenses/validate",
        json={"licenseKey": key},
        headers=via_proxy(address),
        timeout=30,
    )


def risk_events(admin: TestClient, **params: Any) -> list[dict[str, Any]]:
    response = admin.get("/api/admin/risk-events", params=params)
    assert response.status_code == 200, response.text
    items: list[dict[str, Any]] = response.json()["items"]
    return items


def seller_mails(db: Database, kind: str = "risk_flagged") -> list[MailMessage]:
    with db.read_session() as session:
        return list(session.scalars(select(MailMessage).where(MailMessage.kind == kind)))


def flagged_hooks(db: Database) -> list[OutboundEvent]:
    with db.read_session() as session:
        return list(
            session.scalars(select(OutboundEvent).where(OutboundEvent.type == "risk.flagged"))
        )


def license_status(db: Database, key: str) -> str:
    with db.read_session() as session:
        lic = session.scalars(select(License).where(License.key == key)).one()
        return lic.status.value


def held(db: Database, purchase_id: str) -> bool:
    with db.read_session() as session:
        purchase = session.get(Purchase, purchase_id)
        assert purchase is not None
        return purchase.under_review_since is not None


def flush_sightings(db: Database, settings: Settings) -> int:
    """Write the networks validations noted, without waiting for the scheduled write; how many
    licenses were sent to the rules."""
    return sightings.flush(db, settings.risk_validation_networks)
