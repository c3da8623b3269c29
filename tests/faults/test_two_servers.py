"""Two ``shipkey serve`` and one ``shipkey worker`` on one PostgreSQL database, each event
sent to both servers at once: one purchase per order, one e-mail per buyer."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from shipkey.db.engine import Database
from shipkey.db.types import Base
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
from tests.faults.served import Process, Server, environment, free_port, wait_for
from tests.mail.smtp import SmtpTestServer

ORDERS = 30


@pytest.fixture
def empty_postgres(postgres_url: str) -> str:
    engine = create_engine(postgres_url)
    tables = ", ".join(f'"{t.name}"' for t in Base.metadata.sorted_tables)
    with engine.begin() as conn:
        conn.execute(text(f"TRUNCATE {tables} RESTART IDENTITY CASCADE"))
    engine.dispose()
    return postgres_url


@pytest.fixture
def smtp() -> Iterator[SmtpTestServer]:
    server = SmtpTestServer()
    server.start()
    yield server
    server.stop()


def test_the_same_events_at_two_servers_make_one_purchase_and_one_email_each(
    tmp_path: Path, empty_postgres: str, smtp: SmtpTestServer
) -> None:
    processes: list[Process] = []
    db = Database(empty_postgres)
    try:
        servers = []
        for name in ("a", "b"):
            port = free_port()
            env = environment(empty_postgres, tmp_path / "data", port, SHIPKEY_SMTP_URL=smtp.url())
            processes.append(server := Server(port, env, tmp_path / f"serve-{name}.log"))
            servers.append(server.launch())  # side by side: each takes seconds to start
        worker_env = environment(
            empty_postgres, tmp_path / "data", free_port(), SHIPKEY_SMTP_URL=smtp.url()
        )
        processes.append(Process(["worker"], worker_env, tmp_path / "worker.log").start())
        for server in servers:
            server.ready()

        with servers[0].admin() as http:
            create_product(http)
        deliver_all([s.base for s in servers], paid_checkouts(ORDERS), threads=8)

        expected = {buyer(i) for i in range(ORDERS)}
        assert wait_for(lambda: set(mails_by_recipient(smtp.recorder)) >= expected, 60)
        assert wait_for(lambda: mail_statuses(db) == {MailStatus.SENT: ORDERS}, 10)
        assert purchases_by_buyer(db) == dict.fromkeys(expected, 1)
        assert mails_by_recipient(smtp.recorder) == dict.fromkeys(expected, 1)
        assert set(message_ids(smtp.recorder).values()) == {1}
    finally:
        for process in processes:
            process.stop()
        db.dispose()
