"""From a Stripe event to the buyer's inbox, through a real SMTP server."""

from __future__ import annotations

import signal
from datetime import timedelta
from email.message import EmailMessage
from pathlib import Path

from fastapi.testclient import TestClient

from shipkey.clock import utcnow
from shipkey.config import Settings
from shipkey.db.engine import Database
from shipkey.jobs.worker import DEFAULT_LEASE, Worker
from shipkey.mail.models import MailStatus
from shipkey.storage import Storage
from tests.jobs.helpers import Clock
from tests.mail.helpers import with_smtp
from tests.mail.smtp import SmtpTestServer
from tests.mail.test_crash import _worker_process as worker_process
from tests.payments.helpers import mails, software
from tests.payments.stripe_objects import charge, checkout_session, deliver, event, new_id


def _text(email: EmailMessage) -> str:
    part = email.get_body(("plain",))
    assert part is not None
    content: str = part.get_content()
    return content


def test_smtp_down_for_a_minute_then_every_email_arrives(
    admin: TestClient,
    client: TestClient,
    db: Database,
    settings: Settings,
    storage: Storage,
    smtp: SmtpTestServer,
    clock: Clock,
) -> None:
    software(admin)
    worker = Worker(with_smtp(settings, smtp.url()), db, storage, clock=clock)
    smtp.stop()
    intents = [new_id("pi") for _ in range(5)]
    for i, intent in enumerate(intents):
        obj = checkout_session(
            product="pixel-forge", email=f"buyer{i}@example.com", payment_intent=intent
        )
        deliver(client, event("checkout.session.completed", obj))
    deliver(client, event("charge.refunded", charge(intents[0], refunded_amount=1900)))

    for _ in range(6):  # a minute of attempts against a server that is down
        worker.run_once()
        clock.advance(seconds=10)
    assert smtp.recorder.messages() == []
    assert {m.status for m in mails(db)} == {MailStatus.PENDING}

    smtp.start()
    for _ in range(3):
        clock.advance(minutes=5)
        worker.run_once()
    received = smtp.recorder.messages()
    assert sorted(str(m["To"]) for m in received) == sorted(
        [f"buyer{i}@example.com" for i in range(5)] + ["buyer0@example.com"]
    )
    assert len(set(smtp.recorder.message_ids())) == 6  # each once
    assert {m.status for m in mails(db)} == {MailStatus.SENT}
    refund_notice = next(m for m in received if "refunded" in str(m["Subject"]))
    assert refund_notice["To"] == "buyer0@example.com"


def test_the_delivery_email_carries_links_keys_and_the_purchase_page(
    admin: TestClient,
    client: TestClient,
    db: Database,
    settings: Settings,
    storage: Storage,
    smtp: SmtpTestServer,
    clock: Clock,
) -> None:
    software(admin)
    obj = checkout_session(product="pixel-forge", locale="de-DE")
    deliver(client, event("checkout.session.completed", obj))
    Worker(with_smtp(settings, smtp.url()), db, storage, clock=clock).run_once()
    [email] = smtp.recorder.messages()
    [message] = mails(db, "delivery")
    assert email.is_multipart()
    assert email["Subject"] == message.subject
    assert message.locale == "de"
    text = _text(email)
    purchase_id = message.purchase_id
    key = admin.get(f"/api/admin/purchases/{purchase_id}").json()["licenses"][0]["key"]
    assert key in text
    assert "http://testserver/api/download/" in text
    assert f"http://testserver/purchases/{purchase_id}" in text
    assert "seller@example.com" in text  # the support address


def test_a_worker_killed_mid_send_delivers_every_email_after_a_restart(
    admin: TestClient,
    client: TestClient,
    db: Database,
    settings: Settings,
    storage: Storage,
    smtp: SmtpTestServer,
    clock: Clock,
    tmp_path: Path,
) -> None:
    software(admin)
    for i in range(3):
        obj = checkout_session(product="pixel-forge", email=f"buyer{i}@example.com")
        deliver(client, event("checkout.session.completed", obj))
    smtp.recorder.stall_on.add(2)  # the second delivery hangs in DATA

    with worker_process(settings, smtp.url(), tmp_path) as process:
        assert smtp.recorder.stalled.wait(60), (tmp_path / "worker.log").read_text()
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=30)
    assert len(smtp.recorder.messages()) == 1

    clock.now = utcnow() + DEFAULT_LEASE + timedelta(seconds=1)  # the dead worker's lease ran out
    Worker(with_smtp(settings, smtp.url()), db, storage, clock=clock).run_once()
    delivered = {str(m["To"]) for m in smtp.recorder.messages()}
    assert delivered == {f"buyer{i}@example.com" for i in range(3)}
    assert {m.status for m in mails(db)} == {MailStatus.SENT}
