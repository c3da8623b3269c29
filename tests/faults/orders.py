"""Paid checkouts as Stripe sends them, a sender that retries as Stripe does, and what the
database and the SMTP server hold afterwards."""

from __future__ import annotations

import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor

import httpx
from sqlalchemy import func, select

from shipkey.db.engine import Database
from shipkey.mail.models import MailMessage, MailStatus
from shipkey.orders.models import Purchase
from tests.mail.smtp import Recorder
from tests.payments.stripe_objects import WEBHOOK_PATH, body_of, checkout_session, event, sign

PRODUCT = "app"


def create_product(http: httpx.Client) -> None:
    http.post(
        "/api/admin/products",
        json={"name": "App", "slug": PRODUCT, "type": "LICENSE", "price": 1900},
    ).raise_for_status()


def buyer(index: int) -> str:
    return f"buyer{index}@example.com"


def paid_checkouts(count: int) -> list[bytes]:
    """``count`` signed-to-be bodies of ``checkout.session.completed``, one buyer each."""
    return [
        body_of(
            event(
                "checkout.session.completed",
                checkout_session(product=PRODUCT, email=buyer(i)),
            )
        )
        for i in range(count)
    ]


def deliver(base: str, body: bytes, *, patience: float = 90.0) -> int:
    """POST ``body`` as Stripe does until it is answered with 2xx: a refused connection, a lost
    answer or a 5xx is tried again (Stripe waits longer; here a fraction of a second). Returns
    how many attempts it took."""
    deadline = time.monotonic() + patience
    attempts = 0
    while True:
        attempts += 1
        try:
            answer = httpx.post(
                base + WEBHOOK_PATH,
                content=body,
                headers={"Stripe-Signature": sign(body), "Content-Type": "application/json"},
                timeout=10,
            )
            if answer.is_success:
                return attempts
            assert answer.status_code >= 500, answer.text  # a 4xx would never be retried
        except httpx.TransportError:
            pass
        if time.monotonic() > deadline:
            raise AssertionError(f"not accepted after {attempts} attempts")
        time.sleep(0.2)


def deliver_all(bases: list[str], bodies: list[bytes], threads: int = 4) -> list[int]:
    """Every body to every base in ``bases`` (each event sent to each), in parallel."""
    work: list[tuple[str, bytes]] = [(base, body) for body in bodies for base in bases]
    with ThreadPoolExecutor(threads) as pool:
        return list(pool.map(lambda job: deliver(*job), work))


def purchases_by_buyer(db: Database) -> Counter[str]:
    with db.read_session() as session:
        rows = session.execute(select(Purchase.email, func.count()).group_by(Purchase.email)).all()
    return Counter({str(email): int(n) for email, n in rows})


def mail_statuses(db: Database) -> Counter[MailStatus]:
    with db.read_session() as session:
        return Counter(session.scalars(select(MailMessage.status)))


def mails_by_recipient(recorder: Recorder) -> Counter[str]:
    with recorder.lock:
        return Counter(rcpt for received in recorder.received for rcpt in received.rcpt_tos)


def message_ids(recorder: Recorder) -> Counter[str]:
    return Counter(recorder.message_ids())
