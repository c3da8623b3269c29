"""Outbox rows for mail tests."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient
from pydantic import SecretStr
from sqlalchemy import func, select

from shipkey.config import Settings
from shipkey.db.engine import Database
from shipkey.jobs.models import Job
from shipkey.mail import service as mail
from shipkey.mail.models import MailMessage
from tests.factories import create_product, create_purchase

ADMIN_EMAIL = "seller@example.com"


def pending_purchase(admin: TestClient, **fields: Any) -> str:
    """A PENDING purchase (so nothing else writes mail for it); returns its id."""
    product = create_product(admin, name="Rust & Co.", slug="rust-book")
    purchase = create_purchase(admin, product["slug"], status="PENDING", **fields)
    purchase_id: str = purchase["id"]
    return purchase_id


def queue_logins(db: Database, settings: Settings, count: int) -> list[str]:
    """``count`` sign-in e-mails in one transaction; their outbox ids."""
    with db.session() as session:
        return [
            mail.queue_login(
                session, settings, f"buyer{i}@example.com", "en", f"{settings.base_url}/login/t{i}"
            ).id
            for i in range(count)
        ]


def message(db: Database, message_id: str) -> MailMessage:
    with db.read_session() as session:
        row = session.get(MailMessage, message_id)
        assert row is not None
        return row


def job(db: Database, job_id: str | None) -> Job:
    assert job_id is not None
    with db.read_session() as session:
        row = session.get(Job, job_id)
        assert row is not None
        return row


def count_messages(db: Database, kind: str | None = None) -> int:
    query = select(func.count()).select_from(MailMessage)
    if kind is not None:
        query = query.where(MailMessage.kind == kind)
    with db.read_session() as session:
        return int(session.scalar(query) or 0)


def with_smtp(settings: Settings, url: str | None, **changes: object) -> Settings:
    """``settings`` with another SMTP URL (None: the dev mailbox) and other changes."""
    update: dict[str, object] = {"smtp_url": SecretStr(url) if url else None, **changes}
    return settings.model_copy(update=update)
