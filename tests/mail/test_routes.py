"""Admin API: the outbox, failures first, and retrying a message."""

from __future__ import annotations

from fastapi.testclient import TestClient

from shipkey.clock import utcnow
from shipkey.config import Settings
from shipkey.db.engine import Database
from shipkey.jobs.models import JobStatus
from shipkey.jobs.worker import Worker
from shipkey.mail.models import MailStatus
from shipkey.storage import Storage
from tests.mail.helpers import job, message, queue_logins
from tests.mail.smtp import SmtpTestServer


def test_deliveries_list_failures_first_and_filters(
    admin: TestClient,
    db: Database,
    mail_settings: Settings,
    smtp: SmtpTestServer,
    worker: Worker,
) -> None:
    smtp.recorder.refuse.add("buyer1@example.com")
    sent, failed = queue_logins(db, mail_settings, 2)
    worker.run_once()
    [pending] = queue_logins(db, mail_settings, 1)

    everything = admin.get("/api/admin/deliveries")
    assert everything.status_code == 200
    rows = everything.json()
    statuses = [(row["id"], row["status"], row["kind"]) for row in rows]
    assert statuses[0] == (failed, "FAILED", "login")
    assert statuses[1] == (pending, "PENDING", "login")
    assert statuses[2][1:] == ("SENT", "seller_alert")  # newest first
    assert statuses[3] == (sent, "SENT", "login")
    first = rows[0]
    assert first["to"] == "buyer1@example.com"
    assert first["attempts"] == 1
    assert "550" in first["lastError"]

    only_sent = admin.get("/api/admin/deliveries", params={"status": "sent"}).json()
    assert [row["id"] for row in only_sent] == [statuses[2][0], sent]
    assert only_sent[1]["messageId"] == f"<{sent}@testserver>"
    wrong = admin.get("/api/admin/deliveries", params={"status": "lost"})
    assert wrong.status_code == 422
    assert wrong.json()["code"] == "VALIDATION_ERROR"


def test_retry_sends_a_failed_message_again(
    admin: TestClient,
    db: Database,
    mail_settings: Settings,
    smtp: SmtpTestServer,
    worker: Worker,
) -> None:
    smtp.recorder.refuse.add("buyer0@example.com")
    [message_id] = queue_logins(db, mail_settings, 1)
    worker.run_once()
    old_job = message(db, message_id).job_id
    smtp.recorder.refuse.clear()

    response = admin.post(f"/api/admin/deliveries/{message_id}/retry")

    assert response.status_code == 200
    assert response.json()["status"] == "PENDING"
    assert message(db, message_id).job_id != old_job
    assert job(db, old_job).status is JobStatus.FAILED
    assert worker.run_once() == 1
    assert message(db, message_id).status is MailStatus.SENT
    assert smtp.recorder.message_ids()[-1] == f"<{message_id}@testserver>"

    again = admin.post(f"/api/admin/deliveries/{message_id}/retry")
    assert again.status_code == 409
    assert again.json()["code"] == "MAIL_ALREADY_SENT"


def test_retry_makes_a_waiting_message_due_now(
    admin: TestClient,
    db: Database,
    mail_settings: Settings,
    storage: Storage,
    smtp: SmtpTestServer,
) -> None:
    worker = Worker(mail_settings, db, storage)  # the real clock
    smtp.stop()
    [message_id] = queue_logins(db, mail_settings, 1)
    worker.run_once()
    job_id = message(db, message_id).job_id
    assert job(db, job_id).run_at > utcnow()

    assert admin.post(f"/api/admin/deliveries/{message_id}/retry").status_code == 200
    assert job(db, job_id).run_at <= utcnow()
    smtp.start()
    assert worker.run_once() == 1
    assert message(db, message_id).status is MailStatus.SENT


def test_retry_of_an_unknown_message_and_without_a_token(
    admin: TestClient, client: TestClient
) -> None:
    missing = admin.post("/api/admin/deliveries/msg_nothing/retry")
    assert missing.status_code == 404
    assert missing.json()["code"] == "MAIL_NOT_FOUND"
    assert client.get("/api/admin/deliveries").status_code == 401
    assert client.post("/api/admin/deliveries/msg_nothing/retry").status_code == 401
