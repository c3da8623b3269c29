"""Real parallel deliveries of Stripe events against a live server, on SQLite and PostgreSQL.

Stripe delivers at least once, retries, and does not keep order; these tests fire events at the
same time from many threads (one connection each) and check the final state.
"""

from __future__ import annotations

import asyncio
import functools
import random
import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import anyio
import httpx
from fastapi.testclient import TestClient
from sqlalchemy import event as sqlalchemy_event

from shipkey.config import Settings
from shipkey.db.engine import Database
from shipkey.db.group_commit import GroupCommit
from shipkey.jobs.worker import Worker
from shipkey.mail.models import MailStatus
from shipkey.payments.events import Received, receive
from shipkey.payments.models import EventStatus, WebhookEvent
from shipkey.storage import Storage
from tests.jobs.helpers import Clock
from tests.mail.helpers import with_smtp
from tests.mail.smtp import SmtpTestServer
from tests.payments.helpers import (
    admin_purchase,
    events,
    mails,
    only_purchase,
    purchases,
    software,
)
from tests.payments.stripe_objects import (
    WEBHOOK_PATH,
    body_of,
    charge,
    checkout_session,
    dispute,
    event,
    new_id,
    parsed,
    sign,
)


def _fire(base_url: str, bodies: list[bytes]) -> list[httpx.Response]:
    """POST every body at once, each from its own thread and connection."""
    barrier = threading.Barrier(len(bodies))

    def send(body: bytes) -> httpx.Response:
        headers = {"Stripe-Signature": sign(body), "Content-Type": "application/json"}
        with httpx.Client(base_url=base_url, timeout=120) as http:
            barrier.wait()
            return http.post(WEBHOOK_PATH, content=body, headers=headers)

    with ThreadPoolExecutor(max_workers=len(bodies)) as pool:
        return list(pool.map(send, bodies))


def _drain(worker: Worker, clock: Clock, rounds: int = 8) -> None:
    """Run the worker until nothing is due, moving the clock past every backoff."""
    for _ in range(rounds):
        clock.advance(hours=1)
        worker.run_once()


def test_fifty_copies_of_one_event_make_one_purchase_one_delivery_one_email(
    admin: TestClient,
    live_server: str,
    db: Database,
    settings: Settings,
    storage: Storage,
    smtp: SmtpTestServer,
    clock: Clock,
) -> None:
    software(admin)
    payload = event("checkout.session.completed", checkout_session(product="pixel-forge"))
    responses = _fire(live_server, [body_of(payload)] * 50)

    assert [r.status_code for r in responses] == [200] * 50
    answers = [r.json() for r in responses]
    assert sum(1 for a in answers if not a["duplicate"]) == 1
    assert [a["status"] for a in answers if not a["duplicate"]] == ["PROCESSED"]
    purchase = only_purchase(db)
    record = admin_purchase(admin, purchase.id)
    assert record["status"] == "COMPLETED"
    assert len(record["licenses"]) == 1
    assert len(record["downloads"]) == 1
    [stored] = events(db)
    assert stored.attempts == 1

    worker = Worker(with_smtp(settings, smtp.url()), db, storage, clock=clock)
    _drain(worker, clock, rounds=2)
    [email] = smtp.recorder.messages()
    assert email["To"] == "buyer@example.com"
    assert record["licenses"][0]["key"] in email.get_body(("plain",)).get_content()  # type: ignore[union-attr]
    assert [m.status for m in mails(db)] == [MailStatus.SENT]


def test_events_of_one_payment_link_sale_arriving_together_make_one_purchase(
    admin: TestClient, live_server: str, db: Database, worker: Worker, clock: Clock
) -> None:
    """Different events (so no event-id dedupe) naming one Checkout Session that no purchase
    exists for yet: each tries to make it; the session id's uniqueness lets one through and the
    others find it, each event taking effect without an error or a retry."""
    software(admin)
    sale = checkout_session(product="pixel-forge", locale="de-CH")
    completed = [event("checkout.session.completed", sale) for _ in range(12)]
    succeeded = [event("checkout.session.async_payment_succeeded", sale) for _ in range(12)]
    responses = _fire(live_server, _shuffled(*((payload, 1) for payload in completed + succeeded)))

    assert [r.status_code for r in responses] == [200] * 24
    assert {r.json()["status"] for r in responses} == {"PROCESSED"}
    assert [row.attempts for row in _all_applied(db)] == [1] * 24
    purchase = only_purchase(db)
    assert purchase.stripe_checkout_session_id == sale["id"]
    assert purchase.locale == "de"
    record = admin_purchase(admin, purchase.id)
    assert record["status"] == "COMPLETED"
    assert len(record["licenses"]) == 1
    _drain(worker, clock, rounds=2)
    assert len(mails(db, "delivery")) == 1


def test_a_burst_applied_in_one_shared_transaction_takes_effect_event_by_event(
    admin: TestClient, db: Database, settings: Settings
) -> None:
    """What group commit does with a burst on SQLite (shipkey.db.group_commit), on both
    databases: sales, a copy of one, and one that cannot take effect, applied in one
    transaction, each with its own outcome."""
    software(admin)
    sales = [
        event(
            "checkout.session.completed",
            checkout_session(product="pixel-forge", email=f"b{i}@example.com"),
        )
        for i in range(6)
    ]
    unknown = event("checkout.session.completed", checkout_session(product="no-such-product"))
    burst = [parsed(payload) for payload in [*sales, sales[0], unknown]]
    group = GroupCommit(db, anyio.Semaphore(1), writers=1)
    commits: list[object] = []

    def count(conn: object) -> None:
        commits.append(conn)

    async def deliver() -> list[Received]:
        works = [functools.partial(receive, settings=settings, event=e) for e in burst]
        return await asyncio.gather(*(group.run(work) for work in works))

    sqlalchemy_event.listen(db.engine, "commit", count)
    try:
        received = asyncio.run(deliver())
    finally:
        sqlalchemy_event.remove(db.engine, "commit", count)

    assert len(commits) == 1
    assert [(r.duplicate, r.status) for r in received] == [
        *[(False, EventStatus.PROCESSED)] * 6,
        (True, None),
        (False, EventStatus.FAILED),
    ]
    assert sorted(str(p.email) for p in purchases(db)) == [f"b{i}@example.com" for i in range(6)]
    assert len(mails(db, "delivery")) == 6


def _shuffled(*groups: tuple[dict[str, Any], int]) -> list[bytes]:
    bodies = [body_of(payload) for payload, copies in groups for _ in range(copies)]
    random.shuffle(bodies)
    return bodies


def _all_applied(db: Database) -> list[WebhookEvent]:
    rows = events(db)
    assert all(row.status is EventStatus.PROCESSED for row in rows), [
        (row.type, row.status, row.error) for row in rows
    ]
    return rows


def test_a_refund_during_fulfilment_ends_refunded(
    admin: TestClient, live_server: str, db: Database, worker: Worker, clock: Clock
) -> None:
    software(admin)
    intent = new_id("pi")
    completed = event(
        "checkout.session.completed", checkout_session(product="pixel-forge", payment_intent=intent)
    )
    refunded = event("charge.refunded", charge(intent, amount=1900, refunded_amount=1900))
    responses = _fire(live_server, _shuffled((completed, 12), (refunded, 12)))
    assert {r.status_code for r in responses} == {200}

    _drain(worker, clock)
    assert len(_all_applied(db)) == 2
    record = admin_purchase(admin, only_purchase(db).id)
    assert record["status"] == "REFUNDED"
    assert [lic["status"] for lic in record["licenses"]] == ["REVOKED"]
    assert all(d["revokedAt"] is not None for d in record["downloads"])
    assert len(mails(db, "delivery")) == 1
    assert len(mails(db, "revoked")) == 1


def test_a_dispute_during_fulfilment_ends_disputed(
    admin: TestClient, live_server: str, db: Database, worker: Worker, clock: Clock
) -> None:
    software(admin)
    intent = new_id("pi")
    completed = event(
        "checkout.session.completed", checkout_session(product="pixel-forge", payment_intent=intent)
    )
    opened = event("charge.dispute.created", dispute(intent))
    responses = _fire(live_server, _shuffled((completed, 12), (opened, 12)))
    assert {r.status_code for r in responses} == {200}

    _drain(worker, clock)
    assert len(_all_applied(db)) == 2
    record = admin_purchase(admin, only_purchase(db).id)
    assert record["status"] == "DISPUTED"
    assert [lic["status"] for lic in record["licenses"]] == ["SUSPENDED"]


def test_a_lost_dispute_racing_everything_ends_revoked(
    admin: TestClient, live_server: str, db: Database, worker: Worker, clock: Clock
) -> None:
    """Created, closed as lost, and the sale itself, all at once and out of order."""
    software(admin)
    intent = new_id("pi")
    case = dispute(intent)
    completed = event(
        "checkout.session.completed", checkout_session(product="pixel-forge", payment_intent=intent)
    )
    opened = event("charge.dispute.created", case)
    lost = event("charge.dispute.closed", {**case, "status": "lost"})
    responses = _fire(live_server, _shuffled((completed, 8), (opened, 8), (lost, 8)))
    assert {r.status_code for r in responses} == {200}

    _drain(worker, clock)
    record = admin_purchase(admin, only_purchase(db).id)
    assert record["status"] == "REFUNDED"
    assert [lic["status"] for lic in record["licenses"]] == ["REVOKED"]
    assert len(mails(db, "delivery")) == 1
