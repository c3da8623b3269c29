"""Risk fixtures: the app believes X-Forwarded-For from loopback (the test's own proxy), the
seller has an address and a webhook endpoint, and a worker runs the rules."""

from __future__ import annotations

from typing import Any

import pytest

from shipkey.config import Settings
from shipkey.db.engine import Database
from shipkey.hooks.models import WebhookEndpoint
from shipkey.jobs.worker import Worker
from shipkey.storage import Storage

PROXY = "127.0.0.1/32"
SELLER = "seller@example.com"
SUPPORT = "help@example.com"


@pytest.fixture
def settings_overrides() -> dict[str, Any]:
    return {"trusted_proxies": PROXY, "admin_email": SELLER, "support_email": SUPPORT}


@pytest.fixture
def worker(settings: Settings, db: Database, storage: Storage) -> Worker:
    return Worker(settings, db, storage)


@pytest.fixture
def endpoint(db: Database) -> str:
    """A seller webhook endpoint that hears ``risk.flagged``."""
    with db.session() as session:
        row = WebhookEndpoint(
            url="https://seller.example.com/hooks", events=["risk.flagged"], secret="whsec_x"
        )
        session.add(row)
        session.flush()
        return row.id
