"""The server killed with SIGKILL while its outbox drains and Stripe's webhooks arrive: the
sender tries again as Stripe does, and once the server is back every order is delivered once,
and every buyer has exactly one e-mail within 30 seconds of the restart (the sends the crash
cut short are not left waiting for their leases to run out)."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from shipkey.db.engine import Database
from shipkey.mail.models import MailStatus
from tests.faults.orders import (
    buyer,
    create_product,
    deliver_all,
    mail_statuses,
    mails_by_recipient,
    message_ids,
    paid_checkouts,
    purchases_by_buyer,
)
from tests.faults.served import Server, environment, free_port, wait_for
from tests.mail.smtp import SmtpTestServer

ORDERS = 24
FIRST = 8
"""Orders delivered before the crash is prepared; the rest arrive around it."""
SENT_BEFORE = 3
"""E-mails the SMTP server accepts before it holds the next ones unanswered: the crash comes
while those are on their way (their jobs RUNNING under a lease), none accepted and unrecorded."""
RECOVERY = 30.0
"""The promise: every e-mail within this many seconds of the restart."""


@pytest.fixture
def smtp() -> Iterator[SmtpTestServer]:
    server = SmtpTestServer()
    server.recorder.hold_after = SENT_BEFORE
    server.start()
    yield server
    server.stop()


def test_orders_and_mails_under_way_when_the_server_is_killed_are_delivered_once(
    tmp_path: Path, database_url: str, smtp: SmtpTestServer
) -> None:
    port = free_port()
    env = environment(database_url, tmp_path / "data", port, SHIPKEY_SMTP_URL=smtp.url())
    server = Server(port, env, tmp_path / "serve.log").start()
    restarted = Server(port, env, tmp_path / "serve.log")
    db = Database(database_url)
    recovered: list[float] = []
    try:
        with server.admin() as http:
            create_product(http)
        bodies = paid_checkouts(ORDERS)
        deliver_all([server.base], bodies[:FIRST])

        # Mid-drain: some e-mails accepted and recorded SENT, others in the SMTP server's hands
        # (unanswered), the rest still to send.
        def mid_drain() -> bool:
            return smtp.recorder.held > 0 and mail_statuses(db)[MailStatus.SENT] == SENT_BEFORE

        assert wait_for(mid_drain, 60), server.output()

        def crash_and_restart() -> None:
            wait_for(lambda: sum(purchases_by_buyer(db).values()) >= FIRST + 1, every=0.02)
            server.kill()
            # The held messages' clients are gone with it: none of those is to be accepted.
            wait_for(lambda: smtp.recorder.held == 0, 10)
            smtp.recorder.hold_after = None
            restarted.start()
            recovered.append(time.monotonic())

        crasher = threading.Thread(target=crash_and_restart)
        crasher.start()
        attempts = deliver_all([server.base], bodies[FIRST:])
        crasher.join()
        assert server.popen is not None
        assert server.popen.returncode == -9
        assert max(attempts) > 1  # some events met the dead server and were sent again

        expected = {buyer(i) for i in range(ORDERS)}
        # Waited for longer than promised, so that a late e-mail is reported as late.
        assert wait_for(lambda: set(mails_by_recipient(smtp.recorder)) >= expected, 90), (
            restarted.output()
        )
        assert wait_for(lambda: mail_statuses(db)[MailStatus.SENT] == ORDERS, 10)
        with smtp.recorder.lock:
            last = max(received.at for received in smtp.recorder.received)
        assert last - recovered[0] <= RECOVERY, (last - recovered[0], restarted.output())

        assert purchases_by_buyer(db) == dict.fromkeys(expected, 1)
        assert mails_by_recipient(smtp.recorder) == dict.fromkeys(expected, 1), [
            (r.rcpt_tos, round(r.at - recovered[0], 2), str(r.message["Message-ID"]))
            for r in smtp.recorder.received
        ]
        assert set(message_ids(smtp.recorder).values()) == {1}
    finally:
        server.stop()
        restarted.stop()
        db.dispose()
