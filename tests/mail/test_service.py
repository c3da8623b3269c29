"""The outbox: a message and its send job exist exactly when the caller's transaction commits."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from shipkey.config import Settings
from shipkey.db.engine import Database
from shipkey.i18n import normalise_locale
from shipkey.jobs.models import Job
from shipkey.mail import service as mail
from shipkey.mail.models import MailMessage


def _count(db: Database, model: type[Job] | type[MailMessage]) -> int:
    with db.read_session() as session:
        return int(session.scalar(select(func.count()).select_from(model)) or 0)


def test_a_rolled_back_transaction_leaves_no_mail(db: Database, settings: Settings) -> None:
    class Boom(Exception):
        pass

    def queue_then_fail() -> None:
        with db.session() as session:
            mail.queue_login(session, settings, "a@example.com", "en", "http://testserver/login/x")
            raise Boom

    with pytest.raises(Boom):
        queue_then_fail()
    assert _count(db, MailMessage) == 0
    assert _count(db, Job) == 0

    with db.session() as session:
        queued = mail.queue_login(session, settings, "a@example.com", None, "http://x/login/y")
    assert _count(db, MailMessage) == 1
    assert _count(db, Job) == 1
    assert queued.job_id is not None
    assert queued.locale == "en"


def test_addresses_with_line_breaks_are_refused(db: Database, settings: Settings) -> None:
    with pytest.raises(ValueError, match="not an e-mail address"), db.session() as session:
        mail.queue_login(session, settings, "a@example.com\r\nBcc: x@evil", "en", "http://x")


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_support_address_is_its_own_else_the_admin_address_else_none(settings: Settings) -> None:
    assert mail.support_address(settings) is None  # never the no-reply sender
    with_admin = settings.model_copy(update={"admin_email": "seller@shop.example"})
    assert mail.support_address(with_admin) == "seller@shop.example"
    both = with_admin.model_copy(update={"support_email": "help@shop.example"})
    assert mail.support_address(both) == "help@shop.example"


def test_locales_are_normalised() -> None:
    assert normalise_locale("de-AT") == "de"
    assert normalise_locale("DE_de") == "de"
    assert normalise_locale("fr", "de") == "de"
    assert normalise_locale(None) == "en"
