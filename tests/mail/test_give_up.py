"""After ``SHIPKEY_GIVE_UP_HOURS`` of failures a message is FAILED; the seller is alerted, once."""

from __future__ import annotations

from email.message import EmailMessage

from shipkey.config import Settings
from shipkey.db.engine import Database
from shipkey.jobs.models import JobStatus
from shipkey.jobs.worker import Worker
from shipkey.mail.models import MailKind, MailStatus
from shipkey.storage import Storage
from tests.jobs.helpers import Clock
from tests.mail.helpers import ADMIN_EMAIL, count_messages, job, message, queue_logins
from tests.mail.smtp import SmtpTestServer


def _retry_until_failed(worker: Worker, db: Database, clock: Clock, message_id: str) -> int:
    """Run the worker at each retry time until the message's job gives up; its attempts."""
    job_id = message(db, message_id).job_id
    for _ in range(100):
        row = job(db, job_id)
        if row.status is JobStatus.FAILED:
            return row.attempts
        assert row.give_up_at is None or row.run_at <= row.give_up_at
        clock.now = max(clock.now, row.run_at)
        assert worker.run_once() >= 1
    raise AssertionError("the job never gave up")


def _text(email: EmailMessage) -> str:
    body = email.get_body(preferencelist=("plain",))
    assert isinstance(body, EmailMessage)
    return str(body.get_content())


def test_give_up_fails_the_message_and_alerts_the_seller(
    db: Database,
    mail_settings: Settings,
    storage: Storage,
    smtp: SmtpTestServer,
    clock: Clock,
) -> None:
    settings = mail_settings.model_copy(update={"give_up_hours": 1})
    worker = Worker(settings, db, storage, clock=clock)
    smtp.stop()
    [message_id] = queue_logins(db, settings, 1)

    attempts = _retry_until_failed(worker, db, clock, message_id)

    assert attempts > 5  # backed off, not hammered, and not abandoned early
    failed = message(db, message_id)
    assert failed.status is MailStatus.FAILED
    assert failed.attempts == attempts
    assert failed.last_error
    assert "ConnectionRefusedError" in failed.last_error
    dead = job(db, failed.job_id)
    assert dead.finished_at is not None
    assert dead.give_up_at is not None
    assert dead.finished_at >= dead.give_up_at
    assert count_messages(db, MailKind.SELLER_ALERT) == 1

    smtp.start()
    clock.advance(minutes=1)  # the alert's first attempt met the same dead server
    assert worker.run_once() == 1
    [alert] = smtp.recorder.messages()
    assert alert["To"] == ADMIN_EMAIL
    assert alert["Subject"] == "Delivery failed: e-mail to buyer0@example.com"
    text = _text(alert)
    assert "ConnectionRefusedError" in text
    assert "http://testserver/admin/deliveries" in text
    assert f"after {attempts} attempts" in text


def test_a_failed_alert_raises_no_alert(
    db: Database,
    mail_settings: Settings,
    storage: Storage,
    smtp: SmtpTestServer,
    clock: Clock,
) -> None:
    settings = mail_settings.model_copy(update={"give_up_hours": 0.5})
    worker = Worker(settings, db, storage, clock=clock)
    smtp.stop()
    [message_id] = queue_logins(db, settings, 1)
    _retry_until_failed(worker, db, clock, message_id)
    with db.read_session() as session:
        from shipkey.mail import service

        [alert] = service.list_messages(session, MailStatus.PENDING)
        alert_id = alert.id

    _retry_until_failed(worker, db, clock, alert_id)

    assert message(db, alert_id).status is MailStatus.FAILED
    assert count_messages(db, MailKind.SELLER_ALERT) == 1
    clock.advance(days=3)
    assert worker.run_once() == 0


def test_no_alert_without_an_admin_address(
    db: Database,
    mail_settings: Settings,
    storage: Storage,
    smtp: SmtpTestServer,
    clock: Clock,
) -> None:
    settings = mail_settings.model_copy(update={"give_up_hours": 0.5, "admin_email": None})
    smtp.stop()
    [message_id] = queue_logins(db, settings, 1)
    _retry_until_failed(Worker(settings, db, storage, clock=clock), db, clock, message_id)
    assert message(db, message_id).status is MailStatus.FAILED
    assert count_messages(db, MailKind.SELLER_ALERT) == 0


def test_a_refused_recipient_fails_at_once(
    db: Database, mail_settings: Settings, smtp: SmtpTestServer, worker: Worker
) -> None:
    smtp.recorder.refuse.add("buyer0@example.com")
    [message_id] = queue_logins(db, mail_settings, 1)
    assert worker.run_once() == 2  # the message, then the seller's alert
    failed = message(db, message_id)
    assert failed.status is MailStatus.FAILED
    assert failed.attempts == 1
    assert failed.last_error
    assert "550" in failed.last_error
    [alert] = smtp.recorder.messages()
    assert alert["To"] == ADMIN_EMAIL
    assert "after 1 attempt," in _text(alert)
