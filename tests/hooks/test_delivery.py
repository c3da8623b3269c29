"""Seller webhooks reach a real HTTP receiver, signed so that the Standard Webhooks reference
verifier accepts them, on the retry schedule, at least once, and never for work rolled back."""

from __future__ import annotations

import threading
from datetime import timedelta

from sqlalchemy import select

from shipkey.config import Settings
from shipkey.db.engine import Database
from shipkey.hooks import delivery as sending
from shipkey.hooks import emit
from shipkey.hooks.models import DeliveryStatus
from shipkey.jobs.worker import Worker
from shipkey.mail.models import MailKind, MailMessage
from shipkey.storage import Storage
from tests.hooks.conftest import SELLER
from tests.hooks.helpers import deliveries, delivery, endpoint, event, get_endpoint
from tests.hooks.receiver import Behaviour, Receiver
from tests.jobs.helpers import Clock, wait_for


def _alerts(db: Database) -> list[MailMessage]:
    with db.read_session() as session:
        return list(
            session.scalars(select(MailMessage).where(MailMessage.kind == MailKind.SELLER_ALERT))
        )


def test_an_event_arrives_signed_and_the_reference_verifier_accepts_it(
    db: Database, worker: Worker, receiver: Receiver
) -> None:
    endpoint_id, secret = endpoint(db, receiver.url + "/hook")
    event_id = event(db, "purchase.completed", id="pur_1", email="buyer@example.com")

    worker.run_once()

    [got] = receiver.at("/hook")
    assert got.webhook_id == event_id
    assert got.headers["content-type"] == "application/json"
    assert got.headers["webhook-signature"].startswith("v1,")
    document = got.verify(secret)
    assert document["type"] == "purchase.completed"
    assert document["data"] == {"id": "pur_1", "email": "buyer@example.com"}
    assert document["timestamp"].endswith("Z")
    done = delivery(db, endpoint_id)
    assert done.status is DeliveryStatus.DELIVERED
    assert (done.attempts, done.last_status_code, done.last_error) == (1, 200, None)
    assert done.delivered_at is not None
    assert done.next_attempt_at is None


def test_the_secret_is_24_or_more_random_bytes() -> None:
    secret = sending.new_secret()
    assert secret.startswith("whsec_")
    assert len(sending.secret_key(secret)) >= 24
    assert secret != sending.new_secret()


def test_failed_tries_are_retried_on_the_schedule_with_the_same_id_and_body(
    db: Database, worker: Worker, receiver: Receiver, clock: Clock
) -> None:
    receiver.behaviours["/flaky"] = Behaviour(fail_first=3, status=503)
    endpoint_id, secret = endpoint(db, receiver.url + "/flaky")
    event_id = event(db)

    worker.run_once()
    first = delivery(db)
    assert (first.status, first.attempts, first.last_status_code) == (
        DeliveryStatus.PENDING,
        1,
        503,
    )
    assert first.last_error == "HTTP 503: not now"
    assert first.next_attempt_at is not None
    assert get_endpoint(db, endpoint_id).failing_since is not None

    for wait in sending.RETRY_SCHEDULE[:3]:
        worker.run_once()  # the next try is not due yet
        assert receiver.count("/flaky") == delivery(db).attempts
        clock.advance(seconds=wait.total_seconds())
        worker.run_once()

    tries = receiver.at("/flaky")
    assert len(tries) == 4
    assert {t.webhook_id for t in tries} == {event_id}
    assert len({t.body for t in tries}) == 1
    for got in tries:
        assert got.verify(secret)["type"] == "purchase.completed"
    done = delivery(db)
    assert (done.status, done.attempts, done.last_status_code) == (DeliveryStatus.DELIVERED, 4, 200)
    assert get_endpoint(db, endpoint_id).failing_since is None  # a success ends the run


def test_the_schedule_is_about_5s_5min_30min_2h_5h_10h_10h() -> None:
    hours = [sending.delay(n, rand=0).total_seconds() / 3600 for n in range(1, 8)]
    assert hours == [5 / 3600, 5 / 60, 0.5, 2, 5, 10, 10]
    assert sending.delay(1, rand=1) == timedelta(seconds=4.5)  # jitter: up to a tenth sooner


def test_a_receiver_that_hangs_past_the_timeout_is_a_failed_try(
    db: Database, worker: Worker, receiver: Receiver, settings: Settings
) -> None:
    receiver.behaviours["/slow"] = Behaviour(hang=True)
    endpoint(db, receiver.url + "/slow")
    event(db)

    worker.run_once()

    waiting = delivery(db)
    assert waiting.status is DeliveryStatus.PENDING
    assert waiting.attempts == 1
    assert waiting.last_status_code is None
    assert waiting.last_error == f"No answer within {settings.webhook_timeout:g} s."


def test_redirects_are_not_followed(db: Database, worker: Worker, receiver: Receiver) -> None:
    receiver.behaviours["/moved"] = Behaviour(redirect_to=receiver.url + "/target")
    endpoint(db, receiver.url + "/moved")
    event(db)

    worker.run_once()

    assert receiver.count("/moved") == 1
    assert receiver.count("/target") == 0
    waiting = delivery(db)
    assert (waiting.status, waiting.attempts, waiting.last_status_code) == (
        DeliveryStatus.PENDING,
        1,
        302,
    )
    assert "redirects are not followed" in (waiting.last_error or "")


def test_after_the_last_try_the_delivery_fails_and_the_seller_is_alerted(
    db: Database, worker: Worker, receiver: Receiver, clock: Clock
) -> None:
    receiver.behaviours["/down"] = Behaviour(fail_first=1000, status=500)
    endpoint(db, receiver.url + "/down")
    event_id = event(db, "license.created", key="ABC")

    worker.run_once()
    for wait in sending.RETRY_SCHEDULE:
        clock.advance(seconds=wait.total_seconds())
        worker.run_once()

    assert receiver.count("/down") == sending.MAX_ATTEMPTS == 8
    failed = delivery(db)
    assert (failed.status, failed.attempts) == (DeliveryStatus.FAILED, 8)
    assert failed.next_attempt_at is None
    [alert] = _alerts(db)
    assert alert.to_address == SELLER
    assert receiver.url in alert.subject
    assert event_id in alert.text_body
    assert "8 attempts" in alert.text_body
    assert "disabled" not in alert.text_body  # the run of failures is shorter than five days


def test_an_endpoint_failing_for_five_days_is_disabled_and_the_seller_alerted(
    db: Database, worker: Worker, receiver: Receiver, clock: Clock
) -> None:
    receiver.behaviours["/gone"] = Behaviour(fail_first=1000, status=502)
    endpoint_id, _secret = endpoint(db, receiver.url + "/gone")
    event(db)
    worker.run_once()
    assert get_endpoint(db, endpoint_id).failing_since == clock.now

    clock.advance(days=5)
    event(db, "purchase.refunded")
    worker.run_once()  # the new event's first try, and the first event's due retry

    off = get_endpoint(db, endpoint_id)
    assert off.enabled is False
    assert off.disabled_reason
    assert {d.status for d in deliveries(db)} == {DeliveryStatus.FAILED}
    [alert] = _alerts(db)
    assert "disabled" in alert.text_body

    with db.session() as session:  # a disabled endpoint hears nothing more
        assert emit(session, "purchase.completed", {"id": "pur_2"}) is None


def test_events_of_work_that_rolled_back_are_never_sent(
    db: Database, worker: Worker, receiver: Receiver
) -> None:
    endpoint(db, receiver.url + "/hook")
    with db.session() as session:
        emit(session, "purchase.completed", {"id": "pur_rolled_back"})
        session.rollback()
    kept = event(db, "purchase.completed", id="pur_kept")

    worker.run_once()

    assert [r.webhook_id for r in receiver.at("/hook")] == [kept]


def test_each_endpoint_gets_the_types_it_asked_for(
    db: Database, worker: Worker, receiver: Receiver
) -> None:
    endpoint(db, receiver.url + "/all")
    endpoint(db, receiver.url + "/keys", ["license.created"])
    event(db, "purchase.completed")
    event(db, "license.created")

    worker.run_once()

    assert receiver.count("/all") == 2
    [key_event] = receiver.at("/keys")
    assert b'"license.created"' in key_event.body


def test_a_receiver_that_hangs_holds_up_no_other_delivery(
    settings: Settings, db: Database, storage: Storage, receiver: Receiver
) -> None:
    receiver.behaviours["/stuck"] = Behaviour(hang=True)
    endpoint(db, receiver.url + "/stuck")
    fast_id, secret = endpoint(db, receiver.url + "/fast")
    patient = settings.model_copy(update={"webhook_timeout": 60.0})
    worker = Worker(patient, db, storage, poll_interval=0.05)
    stop = threading.Event()
    thread = threading.Thread(target=worker.run_forever, args=(stop,))
    thread.start()
    try:
        event(db)
        assert receiver.hung.wait(30)
        assert wait_for(lambda: delivery(db, fast_id).status is DeliveryStatus.DELIVERED)
        assert receiver.count("/stuck") == 1  # still waiting for its answer
        event(db, "purchase.refunded")
        assert wait_for(lambda: receiver.count("/fast") == 2)
        for got in receiver.at("/fast"):
            got.verify(secret)
    finally:
        receiver.release.set()
        stop.set()
        worker.wake()
        thread.join(timeout=60)
