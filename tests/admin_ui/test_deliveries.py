"""The outbox page: failed e-mails and sending them again."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient

from shipkey.config import Settings
from shipkey.db.engine import Database
from shipkey.mail import service as mail
from shipkey.mail.models import MailMessage, MailStatus
from tests.portal.helpers import csrf


def test_failed_deliveries_show_their_error_and_can_be_retried(
    seller: TestClient, db: Database, settings: Settings, sale: dict[str, Any]
) -> None:
    with db.session() as session:
        message = mail.queue_login(session, settings, "x@example.com", "en", "http://t/login/x")
        mail.mark_failed(session, message.id, "550 5.1.1 No such user here")
    page = seller.get("/admin/deliveries?status=FAILED").text
    assert "550 5.1.1 No such user here" in page
    retried = seller.post(f"/admin/deliveries/{message.id}/retry", data={"csrf_token": csrf(page)})
    assert "The e-mail will be sent again." in retried.text
    with db.read_session() as session:
        assert session.get(MailMessage, message.id).status is MailStatus.PENDING  # type: ignore[union-attr]
