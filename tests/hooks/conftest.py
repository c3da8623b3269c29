"""Seller webhook fixtures: a receiver, a short timeout, a seller to alert, a hand-moved clock."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from shipkey.config import Settings
from shipkey.db.engine import Database
from shipkey.jobs.worker import Worker
from shipkey.storage import Storage
from tests.hooks.receiver import Receiver, running_receiver
from tests.jobs.helpers import Clock

SELLER = "seller@example.com"


@pytest.fixture
def settings_overrides() -> dict[str, Any]:
    return {"webhook_timeout": 1.0, "admin_email": SELLER}


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    with running_receiver() as running:
        yield running


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def worker(settings: Settings, db: Database, storage: Storage, clock: Clock) -> Worker:
    return Worker(settings, db, storage, clock=clock)
