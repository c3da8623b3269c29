"""The SMTP server down, then up again: every e-mail queued meanwhile is sent, once."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import select

from shipkey.db.engine import Database
from shipkey.mail.models import MailMessage, MailStatus
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

ORDERS = 10


def _failed_once(db: Database) -> bool:
    with db.read_session() as session:
        errors = list(session.scalars(select(MailMessage.last_error)))
    return len(errors) == ORDERS and all(errors)


def test_mail_queued_while_the_smtp_server_is_down_is_sent_once_it_is_back(
    tmp_path: Path, database_url: str
) -> None:
    smtp = SmtpTestServer()  # its port is known, nothing listens on it yet
    port = free_port()
    env = environment(database_url, tmp_path / "data", port, SHIPKEY_SMTP_URL=smtp.url())
    server = Server(port, env, tmp_path / "serve.log").start()
    db = Database(database_url)
    try:
        with server.admin() as http:
            create_product(http)
        deliver_all([server.base], paid_checkouts(ORDERS))
        assert wait_for(lambda: _failed_once(db), 30), server.output()
        assert mail_statuses(db) == {MailStatus.PENDING: ORDERS}

        smtp.start()
        expected = {buyer(i) for i in range(ORDERS)}
        assert wait_for(lambda: set(mails_by_recipient(smtp.recorder)) >= expected, 90), (
            server.output()
        )
        assert wait_for(lambda: mail_statuses(db) == {MailStatus.SENT: ORDERS}, 10)
        assert purchases_by_buyer(db) == dict.fromkeys(expected, 1)
        assert mails_by_recipient(smtp.recorder) == dict.fromkeys(expected, 1)
        assert set(message_ids(smtp.recorder).values()) == {1}
    finally:
        server.stop()
        smtp.stop()
        db.dispose()
