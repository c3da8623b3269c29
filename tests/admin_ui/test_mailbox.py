"""The dev mailbox."""

from __future__ import annotations

from fastapi.testclient import TestClient

from shipkey.clock import utcnow
from shipkey.config import Settings
from shipkey.mail.senders import MailboxSender, Outgoing, build_email, mailbox_dir


def test_the_dev_mailbox(seller: TestClient, settings: Settings) -> None:
    outgoing = Outgoing(
        "msg_1", "ada@example.com", "Hello <there>", "Plain body", "<p>HTML body</p>", utcnow()
    )
    MailboxSender(mailbox_dir(settings)).send(build_email(outgoing, settings))
    listing = seller.get("/admin/mailbox").text
    assert "Hello &lt;there&gt;" in listing
    name = listing.split('href="/admin/mailbox/')[1].split('"')[0]
    shown = seller.get(f"/admin/mailbox/{name}").text
    assert "Plain body" in shown
    assert 'sandbox srcdoc="&lt;p&gt;HTML body&lt;/p&gt;' in shown
