"""Each change is reported to the seller's systems, in its own transaction, with the object as
the admin API shows it."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import select

from shipkey.config import Settings
from shipkey.db.engine import Database
from shipkey.hooks.models import OutboundEvent
from shipkey.jobs.models import Job
from shipkey.jobs.registry import JobContext
from shipkey.jobs.worker import Worker
from shipkey.mail import handlers as mail_handlers
from shipkey.mail.models import MailKind, MailMessage
from shipkey.orders.models import Purchase
from shipkey.sales import flows
from shipkey.storage import Storage
from tests.factories import create_product, create_purchase
from tests.hooks.helpers import endpoint
from tests.hooks.receiver import Receiver
from tests.licensing.helpers import activate, buy, deactivate, licensed_product


def _events(db: Database) -> list[tuple[str, dict[str, Any]]]:
    with db.read_session() as session:
        rows = session.scalars(select(OutboundEvent).order_by(OutboundEvent.created_at))
        return [(row.type, row.data) for row in rows]


def _types(db: Database) -> list[str]:
    return [event_type for event_type, _ in _events(db)]


def test_a_sale_of_a_licensed_product_and_its_life(
    admin: TestClient, client: TestClient, db: Database, worker: Worker, receiver: Receiver
) -> None:
    _endpoint_id, secret = endpoint(db, receiver.url + "/hook")
    licensed_product(admin)
    purchase_id, key = buy(admin)
    assert _types(db) == ["license.created", "purchase.completed"]
    [(_, created), (_, completed)] = _events(db)
    assert created["key"] == key
    assert created["status"] == "ACTIVE"
    assert completed == admin.get(f"/api/admin/purchases/{purchase_id}").json()

    assert activate(client, key, "machine-1").status_code == 200
    assert activate(client, key, "machine-1").status_code == 200  # again: no new seat, no event
    assert deactivate(client, key, "machine-1").status_code == 200
    for action in ("suspend", "reinstate", "revoke"):
        assert admin.post(f"/api/admin/licenses/{key}/{action}").status_code == 200
    assert admin.post(f"/api/admin/licenses/{key}/revoke").status_code == 200  # no change
    assert _types(db)[2:] == [
        "license.activated",
        "license.deactivated",
        "license.suspended",
        "license.reinstated",
        "license.revoked",
    ]
    activated = _events(db)[2][1]
    assert [m["machineId"] for m in activated["machines"]] == ["machine-1"]
    assert _events(db)[-1][1] == admin.get(f"/api/admin/licenses/{key}").json()

    worker.run_once()
    got = receiver.at("/hook")
    assert len(got) == 7
    assert [g.verify(secret)["type"] for g in got].count("license.revoked") == 1


def test_a_refund_reports_the_purchase_its_licenses_and_its_access(
    admin: TestClient, db: Database
) -> None:
    endpoint(db, "http://127.0.0.1:9/hook")
    create_product(
        admin,
        name="Course",
        slug="course",
        type="COURSE",
        licenseType="PERPETUAL",
        metadata={"courseSlug": "c1"},
    )
    purchase = create_purchase(admin, "course")
    assert set(_types(db)) == {"license.created", "access.granted", "purchase.completed"}
    granted = dict(_events(db))["access.granted"]
    assert (granted["purchaseId"], granted["kind"], granted["revokedAt"]) == (
        purchase["id"],
        "COURSE",
        None,
    )

    assert admin.post(f"/api/admin/purchases/{purchase['id']}/refund").status_code == 200
    later = dict(_events(db)[3:])
    assert set(later) == {"license.revoked", "access.revoked", "purchase.refunded"}
    assert later["purchase.refunded"]["status"] == "REFUNDED"
    assert later["access.revoked"]["revokedAt"] is not None
    assert later["license.revoked"]["status"] == "REVOKED"


def test_a_dispute_reports_the_purchase_and_its_suspended_licenses(
    admin: TestClient, db: Database
) -> None:
    endpoint(db, "http://127.0.0.1:9/hook", ["purchase.disputed", "license.suspended"])
    licensed_product(admin)
    purchase_id, key = buy(admin)
    with db.session() as session:
        purchase = session.get(Purchase, purchase_id)
        assert purchase is not None
        assert flows.dispute(session, purchase)
        session.commit()
    assert _types(db) == ["license.suspended", "purchase.disputed"]
    assert _events(db)[0][1]["key"] == key


def test_no_event_is_written_without_an_endpoint_that_wants_it(
    admin: TestClient, db: Database
) -> None:
    endpoint(db, "http://127.0.0.1:9/hook", ["risk.flagged"])
    licensed_product(admin)
    buy(admin)
    assert _types(db) == []


def test_a_delivery_e_mail_given_up_is_reported(
    admin: TestClient, db: Database, settings: Settings, storage: Storage
) -> None:
    create_product(admin)
    create_purchase(admin, "test-book")
    endpoint(db, "http://127.0.0.1:9/hook", ["delivery.failed"])
    with db.session() as session:
        message = session.scalars(
            select(MailMessage).where(MailMessage.kind == MailKind.DELIVERY)
        ).one()
        job = session.get(Job, message.job_id)
        assert job is not None
        job.last_error = "SMTPRecipientsRefused: no such mailbox"
        mail_handlers.message_failed(session, JobContext(settings, db, storage), job)
        session.commit()
    [(event_type, data)] = _events(db)
    assert event_type == "delivery.failed"
    assert (data["id"], data["status"], data["to"]) == (message.id, "FAILED", "buyer@example.com")
