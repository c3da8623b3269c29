"""A buyer with several refunds or disputes buying again: checked when the sale is delivered, by a
``risk.check`` job queued with it, whatever the goods (a course is never downloaded) and whether
or not the delivery e-mail goes out."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import delete

from shipkey.config import Settings
from shipkey.db.engine import Database
from shipkey.jobs.models import Job
from shipkey.jobs.worker import Worker
from shipkey.mail.service import SEND_JOB
from shipkey.orders.models import Purchase
from shipkey.risk import service
from shipkey.sales import flows
from tests.factories import create_product, create_purchase
from tests.licensing.helpers import count_queries
from tests.risk.helpers import flagged_hooks, risk_events, seller_mails


def _course(admin: TestClient) -> str:
    create_product(
        admin, name="Course", slug="course", type="COURSE", metadata={"courseSlug": "c1"}
    )
    return "course"


def _refunded(admin: TestClient, product: str) -> str:
    purchase = create_purchase(admin, product)
    assert admin.post(f"/api/admin/purchases/{purchase['id']}/refund").status_code == 200
    return str(purchase["id"])


def _disputed(admin: TestClient, db: Database, product: str) -> str:
    purchase_id = str(create_purchase(admin, product)["id"])
    with db.session() as session:
        row = session.get(Purchase, purchase_id)
        assert row is not None
        assert flows.dispute(session, row)
    return purchase_id


def test_a_buyer_with_a_refund_and_a_dispute_buying_a_course_is_flagged(
    admin: TestClient, db: Database, worker: Worker, endpoint: str
) -> None:
    course = _course(admin)
    earlier = [_refunded(admin, course), _disputed(admin, db, course)]
    worker.run_once()
    assert risk_events(admin) == []  # each was the buyer's first or second
    assert seller_mails(db) == []

    again = create_purchase(admin, course)
    create_purchase(admin, course, email="someone-else@example.com")
    worker.run_once()  # the sales are checked; no download, no license
    [event] = risk_events(admin)
    assert event["kind"] == "REPEAT_REFUNDER"
    assert event["purchaseId"] == again["id"]
    assert event["licenseKey"] is None
    details: list[dict[str, Any]] = event["details"]["purchases"]
    assert [p["purchaseId"] for p in details] == earlier
    assert [p["status"] for p in details] == ["REFUNDED", "DISPUTED"]
    assert len(seller_mails(db)) == 1
    [hook] = flagged_hooks(db)
    assert hook.data["id"] == event["id"]

    worker.run_once()  # the seller's e-mail is sent: nothing more is checked
    assert len(risk_events(admin)) == 1


def test_an_honest_buyer_is_not_flagged(
    admin: TestClient, db: Database, worker: Worker, endpoint: str
) -> None:
    course = _course(admin)
    _refunded(admin, course)  # one refund is not a pattern
    create_purchase(admin, course)
    create_purchase(admin, course)
    worker.run_once()
    assert risk_events(admin) == []
    assert seller_mails(db) == []
    assert flagged_hooks(db) == []


def test_sending_the_delivery_e_mail_again_checks_nothing(
    admin: TestClient, db: Database, worker: Worker
) -> None:
    course = _course(admin)
    _refunded(admin, course)
    _refunded(admin, course)
    again = create_purchase(admin, course)
    worker.run_once()
    [event] = risk_events(admin)
    assert admin.post(f"/api/admin/risk-events/{event['id']}/clear").status_code == 200
    resent = admin.post(f"/api/admin/purchases/{again['id']}/resend")
    assert resent.status_code == 202, resent.text
    worker.run_once()
    assert risk_events(admin, status="OPEN") == []  # cleared stays cleared


def test_a_sale_whose_delivery_e_mail_never_goes_out_is_checked_all_the_same(
    admin: TestClient, db: Database, worker: Worker
) -> None:
    course = _course(admin)
    _refunded(admin, course)
    _refunded(admin, course)
    worker.run_once()
    again = create_purchase(admin, course)
    with db.session() as session:  # its e-mail is refused for good, or waits for the SMTP server
        session.execute(delete(Job).where(Job.kind == SEND_JOB))
    worker.run_once()
    [event] = risk_events(admin)
    assert (event["kind"], event["purchaseId"]) == ("REPEAT_REFUNDER", again["id"])


def test_an_honest_sale_costs_its_check_one_count(
    admin: TestClient, db: Database, settings: Settings
) -> None:
    purchase = create_purchase(admin, _course(admin))
    with count_queries(db.engine) as statements, db.session() as session:
        assert service.check_sale(session, settings, purchase["id"]) == []
    assert [s for s in statements if not s.startswith("BEGIN")] == [statements[-1]]
    assert statements[-1].startswith("SELECT count(*)")
