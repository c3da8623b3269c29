"""Without ``SHIPKEY_SMTP_URL`` mail goes to the dev mailbox: one .eml file per message."""

from __future__ import annotations

from email.message import EmailMessage

from shipkey.config import Settings
from shipkey.db.engine import Database
from shipkey.jobs.worker import Worker
from shipkey.mail.models import MailStatus
from shipkey.mail.senders import list_mailbox, mailbox_dir, read_mailbox
from shipkey.storage import Storage
from tests.mail.helpers import message, queue_logins


def test_mail_lands_in_the_dev_mailbox(db: Database, settings: Settings, storage: Storage) -> None:
    assert settings.smtp_url is None
    ids = queue_logins(db, settings, 2)
    assert Worker(settings, db, storage).run_once() == 2

    directory = mailbox_dir(settings)
    entries = list_mailbox(directory)
    assert len(entries) == 2
    assert {e.to for e in entries} == {"buyer0@example.com", "buyer1@example.com"}
    assert {e.message_id for e in entries} == {f"<{i}@testserver>" for i in ids}
    assert all(e.subject == "Your sign-in link" and e.date is not None for e in entries)
    assert sorted(p.name for p in directory.iterdir()) == sorted(e.name for e in entries)

    email = read_mailbox(directory, entries[0].name)
    assert isinstance(email, EmailMessage)
    assert email.get_content_type() == "multipart/alternative"
    assert [part.get_content_type() for part in email.iter_parts()] == ["text/plain", "text/html"]
    assert all(message(db, i).status is MailStatus.SENT for i in ids)


def test_mailbox_names_cannot_escape_the_directory(settings: Settings) -> None:
    directory = mailbox_dir(settings)
    assert list_mailbox(directory) == []
    assert read_mailbox(directory, "../secret_key") is None
    assert read_mailbox(directory, "20260101T000000000000-deadbeef.eml") is None
