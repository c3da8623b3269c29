"""The server killed with SIGKILL while Stripe's webhooks arrive: the sender tries again as
Stripe does, and once the server is back every order is delivered once, with one e-mail."""

from __future__ import annotations

import threading
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

ORDERS = 20


@pytest.fixture
def smtp() -> Iterator[SmtpTestServer]:
    server = SmtpTestServer()
    yield server
    server.stop()


def test_orders_sent_while_the_server_is_killed_are_delivered_once(
    tmp_path: Path, database_url: str, smtp: SmtpTestServer
) -> None:
    port = free_port()
    env = environment(database_url, tmp_path / "data", port, SHIPKEY_SMTP_URL=smtp.url())
    # The SMTP server starts only after the crash, so that no message is on its way when the
    # server dies (one that is may arrive twice: sent, not yet recorded; same Message-ID).
    server = Server(port, env, tmp_path / "serve.log").start()
    restarted = Server(port, env, tmp_path / "serve.log")
    db = Database(database_url)
    try:
        with server.admin() as http:
            create_product(http)
        bodies = paid_checkouts(ORDERS)

        def crash_and_restart() -> None:
            wait_for(lambda: sum(purchases_by_buyer(db).values()) >= ORDERS // 4, every=0.02)
            server.kill()
            restarted.start()

        crasher = threading.Thread(target=crash_and_restart)
        crasher.start()
        attempts = deliver_all([server.base], bodies)
        crasher.join()
        assert server.popen is not None
        assert server.popen.returncode == -9
        assert max(attempts) > 1  # some events met the dead server and were sent again

        smtp.start()
        expected = {buyer(i) for i in range(ORDERS)}
        # Each e-mail waits out its retry back-off (5 s, 10 s, 20 s, 40 s, …) after the refusals.
        assert wait_for(lambda: set(mails_by_recipient(smtp.recorder)) >= expected, 240), (
            restarted.output()
        )
        assert wait_for(lambda: mail_statuses(db)[MailStatus.SENT] == ORDERS, 10)

        assert purchases_by_buyer(db) == dict.fromkeys(expected, 1)
        assert mails_by_recipient(smtp.recorder) == dict.fromkeys(expected, 1)
        assert set(message_ids(smtp.recorder).values()) == {1}
    finally:
        server.stop()
        restarted.stop()
        db.dispose()
