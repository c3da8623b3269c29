"""Mail fixtures: a real SMTP server per test, settings that point at it, a worker with a clock."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from shipkey.config import Settings
from shipkey.db.engine import Database
from shipkey.jobs.worker import Worker
from shipkey.storage import Storage
from tests.jobs.helpers import Clock
from tests.mail.helpers import ADMIN_EMAIL, with_smtp
from tests.mail.smtp import Certificates, SmtpTestServer, make_certificates


@pytest.fixture
def smtp() -> Iterator[SmtpTestServer]:
    server = SmtpTestServer()
    server.start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def certificates(tmp_path_factory: pytest.TempPathFactory) -> Certificates:
    return make_certificates(tmp_path_factory.mktemp("certs"))


@pytest.fixture
def mail_settings(settings: Settings, smtp: SmtpTestServer) -> Settings:
    return with_smtp(settings, smtp.url(), admin_email=ADMIN_EMAIL)


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def worker(mail_settings: Settings, db: Database, storage: Storage, clock: Clock) -> Worker:
    return Worker(mail_settings, db, storage, clock=clock)
