"""PostgreSQL refusing connections for a while: requests get 503 with ``Retry-After``, never
500, and once it is back the orders Stripe sends again are delivered once each, with nothing
half-done from the attempts that failed.

The test runs a throw-away PostgreSQL cluster of its own (``initdb`` and ``pg_ctl`` from
Debian's server package, as the ``postgres`` user when the suite runs as root), so that it can
stop and start it."""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from sqlalchemy import select

from shipkey import migrate
from shipkey.db.engine import Database
from shipkey.licensing.models import License
from shipkey.mail.models import MailStatus
from tests.faults.orders import (
    buyer,
    create_product,
    deliver,
    deliver_all,
    mail_statuses,
    mails_by_recipient,
    message_ids,
    paid_checkouts,
    purchases_by_buyer,
)
from tests.faults.served import Server, environment, free_port, wait_for
from tests.mail.smtp import SmtpTestServer
from tests.payments.stripe_objects import WEBHOOK_PATH, sign

ORDERS = 6


def _bin(name: str) -> str:
    found = sorted(Path("/usr/lib/postgresql").glob(f"*/bin/{name}"))
    assert found, f"{name} is missing: apt-get install postgresql"
    return str(found[-1])


class Cluster:
    """A PostgreSQL cluster in a temporary directory, on its own port."""

    def __init__(self) -> None:
        self.directory = Path(tempfile.mkdtemp(prefix="shipkey-pg-"))
        self.data = self.directory / "data"
        self.port = free_port()
        self.url = f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/postgres"
        # PostgreSQL refuses to run as root: the cluster belongs to the postgres user then.
        self.user = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
        if self.user:
            shutil.chown(self.directory, "postgres", "postgres")

    def _run(self, *args: str) -> None:
        subprocess.run([*self.user, *args], check=True, capture_output=True, timeout=120)

    def init(self) -> None:
        self._run(_bin("initdb"), "-D", str(self.data), "-U", "postgres", "-A", "trust", "-N")

    def start(self) -> None:
        options = f"-p {self.port} -k {self.directory} -c listen_addresses=127.0.0.1 -c fsync=off"
        self._run(
            _bin("pg_ctl"), "-D", str(self.data), "-o", options,
            "-l", str(self.directory / "log"), "-w", "start",
        )  # fmt: skip

    def stop(self) -> None:
        self._run(_bin("pg_ctl"), "-D", str(self.data), "-m", "fast", "-w", "stop")

    def remove(self) -> None:
        with contextlib.suppress(subprocess.CalledProcessError):
            self.stop()
        shutil.rmtree(self.directory, ignore_errors=True)


def _migrate(cluster: Cluster) -> None:
    """What ``shipkey migrate`` does, without starting an interpreter for it."""
    db = Database(cluster.url)
    try:
        migrate.upgrade(db.engine)
    finally:
        db.dispose()


@pytest.fixture
def cluster() -> Iterator[Cluster]:
    made = Cluster()
    try:
        made.init()
        made.start()
        yield made
    finally:
        made.remove()


@pytest.fixture
def smtp() -> Iterator[SmtpTestServer]:
    server = SmtpTestServer()
    server.start()
    yield server
    server.stop()


@contextlib.contextmanager
def _serving(
    tmp_path: Path, cluster: Cluster, smtp: SmtpTestServer
) -> Iterator[tuple[Server, Database]]:
    """``shipkey serve`` on the migrated cluster, sending through ``smtp``, with the product
    the orders buy; and a database handle of the test's own."""
    port = free_port()
    env = environment(cluster.url, tmp_path / "data", port, SHIPKEY_SMTP_URL=smtp.url())
    _migrate(cluster)
    server = Server(port, env, tmp_path / "serve.log").start()
    db = Database(cluster.url)
    try:
        with server.admin() as http:
            create_product(http)
        yield server, db
    finally:
        server.stop()
        db.dispose()


def _requests_while_down(server: Server, key: str) -> list[httpx.Response]:
    body = paid_checkouts(1)[0]
    with server.admin(timeout=30) as http:
        return [
            http.post(
                WEBHOOK_PATH,
                content=body,
                headers={"Stripe-Signature": sign(body), "Content-Type": "application/json"},
            ),
            http.get("/api/admin/products"),
            http.post("/api/admin/purchases", json={"product": "app", "email": "x@example.com"}),
            http.post("/api/licenses/validate", json={"licenseKey": key}),
        ]


def test_requests_while_the_database_is_down_get_503_and_nothing_half_done(
    tmp_path: Path, cluster: Cluster, smtp: SmtpTestServer
) -> None:
    with _serving(tmp_path, cluster, smtp) as (server, db):
        bodies = paid_checkouts(ORDERS)
        deliver(server.base, bodies[0])  # the pools hold connections that are about to break
        with db.read_session() as session:
            key = session.scalars(select(License.key)).one()
        with server.admin() as http:
            assert http.post("/api/licenses/validate", json={"licenseKey": key}).json()["valid"]

        cluster.stop()
        for _ in range(3):  # broken pooled connections, then refused new ones
            for answer in _requests_while_down(server, key):
                assert answer.status_code == 503, (answer.request.url, answer.text)
                assert answer.headers["Retry-After"].isdigit()
                assert answer.json()["code"] == "DATABASE_UNAVAILABLE"
        cluster.start()

        deliver_all([server.base], bodies)
        expected = {buyer(i) for i in range(ORDERS)}
        assert wait_for(lambda: set(mails_by_recipient(smtp.recorder)) >= expected, 60)
        assert wait_for(lambda: mail_statuses(db) == {MailStatus.SENT: ORDERS}, 10)
        # The webhook answered 503 while the database was down wrote nothing: its event, sent
        # again now, made the one purchase of its buyer.
        assert purchases_by_buyer(db) == dict.fromkeys(expected, 1)
        assert mails_by_recipient(smtp.recorder) == dict.fromkeys(expected, 1)


MID_DRAIN_ORDERS = 14
SENT_BEFORE = 2
RECOVERY = 30.0
"""The promise: every e-mail sent, and recorded, within this many seconds of the database's
return."""


def test_mail_under_way_when_the_database_stops_is_sent_once_soon_after_it_is_back(
    tmp_path: Path, cluster: Cluster, smtp: SmtpTestServer
) -> None:
    smtp.recorder.hold_after = SENT_BEFORE
    with _serving(tmp_path, cluster, smtp) as (server, db):
        deliver_all([server.base], paid_checkouts(MID_DRAIN_ORDERS))
        assert wait_for(
            lambda: smtp.recorder.held > 0 and mail_statuses(db)[MailStatus.SENT] == SENT_BEFORE,
            60,
        ), server.output()
        held = smtp.recorder.held

        db.dispose()
        cluster.stop()
        # The messages in the SMTP server's hands are accepted now: the jobs that sent them
        # cannot record it until the database is back, and must not send them again.
        smtp.recorder.hold_after = None
        assert wait_for(lambda: len(smtp.recorder.received) >= SENT_BEFORE + held, 30)
        cluster.start()
        recovered = time.monotonic()

        expected = {buyer(i) for i in range(MID_DRAIN_ORDERS)}
        everything = {MailStatus.SENT: MID_DRAIN_ORDERS}
        assert wait_for(lambda: mail_statuses(db) == everything, 90), server.output()
        assert time.monotonic() - recovered <= RECOVERY, server.output()
        with smtp.recorder.lock:
            last = max(received.at for received in smtp.recorder.received)
        assert last - recovered <= RECOVERY
        assert set(mails_by_recipient(smtp.recorder)) == expected
        time.sleep(1)  # a second copy would come now, if any
        assert mails_by_recipient(smtp.recorder) == dict.fromkeys(expected, 1)
        assert set(message_ids(smtp.recorder).values()) == {1}
