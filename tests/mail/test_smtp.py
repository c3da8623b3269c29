"""E-mail over real SMTP (aiosmtpd): multipart, headers, languages, retries while the server is
down, and the TLS paths."""

from __future__ import annotations

import smtplib
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage

import pytest
from fastapi.testclient import TestClient

from shipkey.config import Settings
from shipkey.db.engine import Database
from shipkey.jobs.models import JobStatus
from shipkey.jobs.worker import Worker
from shipkey.mail import senders
from shipkey.mail import service as mail
from shipkey.mail.models import MailStatus
from shipkey.orders.models import Purchase
from shipkey.storage import Storage
from tests.jobs.helpers import Clock
from tests.mail.helpers import job, message, pending_purchase, queue_logins, with_smtp
from tests.mail.smtp import Authenticator, Certificates, SmtpTestServer

EXPIRES = datetime(2030, 1, 2, 3, 4, tzinfo=UTC)


def _parts(email: EmailMessage) -> tuple[str, str]:
    assert email.get_content_type() == "multipart/alternative"
    text = email.get_body(preferencelist=("plain",))
    html = email.get_body(preferencelist=("html",))
    assert text is not None
    assert html is not None
    assert isinstance(text, EmailMessage)
    assert isinstance(html, EmailMessage)
    return str(text.get_content()), str(html.get_content())


def _queue_delivery(db: Database, settings: Settings, purchase_id: str) -> str:
    with db.session() as session:
        purchase = session.get(Purchase, purchase_id)
        assert purchase is not None
        queued = mail.queue_delivery(
            session,
            settings,
            purchase,
            links=[(f"{settings.base_url}/api/download/tok-1", EXPIRES)],
            licenses=[("RUS-ABCDE-FGHJK-LMNPQ-RSTUV-1A2B", None)],
            access=[("Rust course", "https://learn.example.com/rust")],
        )
        return queued.id


@pytest.mark.parametrize(
    ("locale", "subject", "greeting"),
    [
        ("en", "Your purchase: Rust & Co.", "Hello Ada,"),
        ("de", "Ihr Kauf: Rust & Co.", "Hallo Ada,"),
    ],
)
def test_delivery_arrives_as_multipart_text_and_html(
    admin: TestClient,
    db: Database,
    mail_settings: Settings,
    smtp: SmtpTestServer,
    worker: Worker,
    locale: str,
    subject: str,
    greeting: str,
) -> None:
    purchase_id = pending_purchase(admin, name="Ada", locale=locale)
    message_id = _queue_delivery(db, mail_settings, purchase_id)

    assert worker.run_once() == 1

    [email] = smtp.recorder.messages()
    assert email["Subject"] == subject
    assert email["To"] == "buyer@example.com"
    assert email["From"] == mail_settings.mail_from
    assert email["Date"] is not None
    assert email["Message-ID"] == f"<{message_id}@testserver>"
    text, html = _parts(email)
    for body in (text, html):
        assert greeting in body
        assert "http://testserver/api/download/tok-1" in body
        assert "RUS-ABCDE-FGHJK-LMNPQ-RSTUV-1A2B" in body
        assert "https://learn.example.com/rust" in body
        assert f"http://testserver/purchases/{purchase_id}" in body
    assert "Rust &amp; Co." in html  # the HTML part is escaped
    sent = message(db, message_id)
    assert sent.status is MailStatus.SENT
    assert sent.locale == locale
    assert sent.message_id == email["Message-ID"]
    assert sent.attempts == 1
    assert job(db, sent.job_id).status is JobStatus.DONE


def test_default_locale_applies_when_the_purchase_has_none(
    admin: TestClient,
    db: Database,
    storage: Storage,
    mail_settings: Settings,
    smtp: SmtpTestServer,
    clock: Clock,
) -> None:
    german = mail_settings.model_copy(update={"default_locale": "de"})
    purchase_id = pending_purchase(admin)
    _queue_delivery(db, german, purchase_id)
    Worker(german, db, storage, clock=clock).run_once()
    [email] = smtp.recorder.messages()
    assert email["Subject"] == "Ihr Kauf: Rust & Co."


def test_smtp_down_then_up_is_retried_with_backoff_and_sent_once(
    db: Database, mail_settings: Settings, smtp: SmtpTestServer, worker: Worker, clock: Clock
) -> None:
    smtp.stop()
    [message_id] = queue_logins(db, mail_settings, 1)
    job_id = message(db, message_id).job_id

    delays = []
    for attempt in range(1, 5):
        assert worker.run_once() == 1
        row, pending = job(db, job_id), message(db, message_id)
        assert row.status is JobStatus.QUEUED
        assert row.attempts == attempt
        assert pending.status is MailStatus.PENDING
        assert pending.attempts == attempt
        assert pending.last_error
        assert "ConnectionRefusedError" in pending.last_error
        delays.append(row.run_at - clock.now)
        assert worker.run_once() == 0  # not due before its backoff
        clock.now = row.run_at
    assert delays == sorted(delays)
    assert delays[0] <= timedelta(seconds=5) < delays[-1]

    smtp.start()
    assert worker.run_once() == 1
    clock.advance(hours=1)
    assert worker.run_once() == 0
    assert smtp.recorder.message_ids() == [f"<{message_id}@testserver>"]
    assert message(db, message_id).status is MailStatus.SENT
    assert message(db, message_id).attempts == 5


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_starttls_with_login(
    db: Database, settings: Settings, storage: Storage, certificates: Certificates
) -> None:
    server = SmtpTestServer(
        starttls=certificates.server_context(), authenticator=Authenticator("shop", "s3cr:t")
    )
    server.start()
    try:
        url = server.url("smtp", "shop:s3cr%3At")
        configured = with_smtp(settings, url, smtp_ca_file=certificates.ca_file)
        queue_logins(db, configured, 1)
        assert Worker(configured, db, storage).run_once() == 1
    finally:
        server.stop()
    [received] = server.recorder.received
    assert received.tls
    assert received.authenticated


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_smtps_implicit_tls(
    db: Database, settings: Settings, storage: Storage, certificates: Certificates
) -> None:
    server = SmtpTestServer(implicit_tls=certificates.server_context())
    server.start()
    try:
        configured = with_smtp(settings, server.url("smtps"), smtp_ca_file=certificates.ca_file)
        queue_logins(db, configured, 1)
        assert Worker(configured, db, storage).run_once() == 1
    finally:
        server.stop()
    [received] = server.recorder.received
    assert received.tls


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_an_untrusted_certificate_is_refused_by_default(
    db: Database, settings: Settings, storage: Storage, certificates: Certificates
) -> None:
    server = SmtpTestServer(implicit_tls=certificates.server_context())
    server.start()
    try:
        configured = with_smtp(settings, server.url("smtps"))
        [message_id] = queue_logins(db, configured, 1)
        assert Worker(configured, db, storage).run_once() == 1
    finally:
        server.stop()
    assert server.recorder.received == []
    pending = message(db, message_id)
    assert pending.status is MailStatus.PENDING
    assert pending.last_error
    assert "CERTIFICATE_VERIFY_FAILED" in pending.last_error


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_a_password_is_never_sent_without_tls(
    db: Database, settings: Settings, storage: Storage
) -> None:
    server = SmtpTestServer(authenticator=Authenticator("shop", "secret"), auth_require_tls=False)
    server.start()
    try:
        configured = with_smtp(settings, server.url("smtp", "shop:secret"))
        [message_id] = queue_logins(db, configured, 1)
        Worker(configured, db, storage).run_once()
    finally:
        server.stop()
    assert server.recorder.received == []
    pending = message(db, message_id)
    assert pending.status is MailStatus.PENDING
    assert pending.last_error
    assert "TLS" in pending.last_error


# --- one connection for a burst ------------------------------------------------------------


@pytest.fixture
def connects(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[str]]:
    """The threads that opened an SMTP connection, in order."""
    opened: list[str] = []
    connect = senders.SmtpSender._connect

    def counted(sender: senders.SmtpSender) -> smtplib.SMTP:
        opened.append(threading.current_thread().name)
        return connect(sender)

    monkeypatch.setattr(senders.SmtpSender, "_connect", counted)
    senders.close_connection()  # nothing left open by an earlier test in this thread
    yield opened
    senders.close_connection()


def test_a_burst_of_messages_shares_one_connection(
    db: Database, mail_settings: Settings, smtp: SmtpTestServer, worker: Worker, connects: list[str]
) -> None:
    ids = queue_logins(db, mail_settings, 5)
    assert worker.run_once() == 5
    assert len(connects) == 1
    assert sorted(smtp.recorder.message_ids()) == sorted(f"<{i}@testserver>" for i in ids)
    assert all(message(db, i).status is MailStatus.SENT for i in ids)

    # Another thread has its own connection: two workers never share one.
    def second_worker() -> None:
        worker.run_once()
        senders.close_connection()  # as a stopping worker does (Registry.on_stop)

    other = threading.Thread(target=second_worker, name="second worker")
    queue_logins(db, mail_settings, 1)
    other.start()
    other.join()
    assert connects[1:] == ["second worker"]


def test_a_connection_the_server_dropped_is_replaced_before_sending(
    db: Database, mail_settings: Settings, smtp: SmtpTestServer, worker: Worker, connects: list[str]
) -> None:
    queue_logins(db, mail_settings, 1)
    assert worker.run_once() == 1
    smtp.stop()  # the server goes away and comes back: the open connection is dead
    smtp.start()
    [second] = queue_logins(db, mail_settings, 1)
    assert worker.run_once() == 1
    assert len(connects) == 2
    assert message(db, second).status is MailStatus.SENT
    assert message(db, second).attempts == 1  # found before sending, not a failed attempt
    assert len(smtp.recorder.received) == 2


def test_an_idle_connection_is_closed_rather_than_used_again(
    db: Database,
    mail_settings: Settings,
    smtp: SmtpTestServer,
    worker: Worker,
    connects: list[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(senders, "SMTP_REUSE_SECONDS", 0.0)
    queue_logins(db, mail_settings, 2)
    assert worker.run_once() == 2
    assert len(connects) == 2
    assert len(smtp.recorder.received) == 2


def test_a_refused_recipient_does_not_poison_the_next_message(
    db: Database, mail_settings: Settings, smtp: SmtpTestServer, worker: Worker, connects: list[str]
) -> None:
    smtp.recorder.refuse.add("buyer1@example.com")
    first, refused, last = queue_logins(db, mail_settings, 3)
    worker.run_once()
    assert message(db, refused).status is MailStatus.FAILED
    assert message(db, first).status is MailStatus.SENT
    assert message(db, last).status is MailStatus.SENT
    recipients = [rcpt for got in smtp.recorder.received for rcpt in got.rcpt_tos]
    assert {"buyer0@example.com", "buyer2@example.com"} <= set(recipients)
    assert "buyer1@example.com" not in recipients
