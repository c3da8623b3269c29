"""Names and subjects never add headers to an e-mail: line breaks and other control characters
in a product's or buyer's name, an address or the sender's name cannot reach a header."""

from __future__ import annotations

import unicodedata
from email import message_from_bytes, policy

import pytest
from fastapi.testclient import TestClient
from pydantic import ValidationError

from shipkey.clock import utcnow
from shipkey.config import Settings
from shipkey.db.engine import Database
from shipkey.mail import service as mail
from shipkey.mail.senders import Outgoing, build_email
from tests.factories import create_product, create_purchase
from tests.payments.helpers import mails

INJECTED = "Eve\r\nBcc: x@example.com"


def _headers(raw: bytes) -> bytes:
    return raw.split(b"\n\n", 1)[0]


def _no_control_characters(text: str) -> bool:
    return not any(unicodedata.category(c) == "Cc" for c in text)


def test_names_with_line_breaks_add_no_headers(
    admin: TestClient, db: Database, settings: Settings
) -> None:
    product = create_product(admin, name=f"Book {INJECTED}\x1b[2J\x07", slug="book")
    create_purchase(admin, product["slug"], email="ada@example.com", name=INJECTED)
    [delivery] = mails(db, "delivery")
    assert _no_control_characters(delivery.subject)
    raw = build_email(_outgoing(delivery.subject, delivery.to_address), settings).as_bytes()
    parsed = message_from_bytes(raw, policy=policy.default)
    assert parsed["Bcc"] is None
    assert parsed.get_all("Subject") == [delivery.subject]
    assert b"\x1b" not in _headers(raw)
    assert b"\x07" not in _headers(raw)


def _outgoing(subject: str, to: str = "ada@example.com") -> Outgoing:
    return Outgoing("msg_1", to, subject, "text\n", "<p>html</p>", utcnow())


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
@pytest.mark.parametrize(
    "subject", [INJECTED, "Eve\x00Bcc: x", "Eve\x1b[31m", "Eve\x0bBcc: x", "Eve\u2028Bcc: x"]
)
def test_a_subject_never_carries_control_characters(settings: Settings, subject: str) -> None:
    email = build_email(_outgoing(subject), settings)
    raw = email.as_bytes()
    assert _no_control_characters(str(email["Subject"]))
    assert email["Bcc"] is None
    assert all(byte >= 0x20 or byte in b"\r\n\t" for byte in _headers(raw)), _headers(raw)


@pytest.mark.parametrize(
    "address", ["a@example.com\r\nBcc: x@evil", "a@example.com\x0bBcc: x@evil", "a@exa\x00mple.com"]
)
def test_addresses_with_control_characters_are_refused(
    db: Database, settings: Settings, address: str
) -> None:
    with pytest.raises(ValueError, match="not an e-mail address"), db.session() as session:
        mail.queue_login(session, settings, address, "en", "http://x")


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_a_sender_name_with_line_breaks_is_refused(settings: Settings) -> None:
    with pytest.raises(ValidationError, match="mail_from"):
        Settings(_env_file=None, mail_from=f"{INJECTED} <shop@example.com>")
    with pytest.raises(ValidationError, match="mail_from"):
        Settings(_env_file=None, mail_from="Shop\x00 <shop@example.com>")
