"""Payments fixtures: a fake Stripe API on loopback, settings that use it and sign events."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from shipkey.config import Settings
from shipkey.db.engine import Database
from shipkey.jobs.worker import Worker
from shipkey.storage import Storage
from tests.jobs.helpers import Clock
from tests.mail.smtp import SmtpTestServer
from tests.payments.fake_stripe import FakeStripe, stripe_settings


@pytest.fixture
def fake_stripe() -> Iterator[FakeStripe]:
    fake = FakeStripe()
    fake.start()
    yield fake
    fake.stop()


@pytest.fixture
def settings(settings: Settings, fake_stripe: FakeStripe) -> Settings:
    return settings.model_copy(
        update={
            **stripe_settings(fake_stripe),
            "admin_email": "seller@example.com",
        }
    )


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def worker(settings: Settings, db: Database, storage: Storage, clock: Clock) -> Worker:
    """A worker on the dev mailbox (no SMTP): it applies waiting events and 'sends' mail."""
    return Worker(settings, db, storage, clock=clock)


@pytest.fixture
def smtp() -> Iterator[SmtpTestServer]:
    server = SmtpTestServer()
    server.start()
    yield server
    server.stop()
