"""A buyer's data: the export (admin API and portal), erasure, and the daily cut of old
network addresses and user agents."""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select, update

from shipkey.clock import utcnow
from shipkey.config import Settings
from shipkey.db.engine import Database
from shipkey.downloads.models import Download, StampedCopy
from shipkey.http.net import Client
from shipkey.jobs.models import Job, JobStatus
from shipkey.jobs.worker import Worker
from shipkey.licensing.models import LicenseActivation
from shipkey.mail.models import MailMessage, MailStatus
from shipkey.orders.models import Customer
from shipkey.portal import service as portal
from shipkey.portal.models import LoginPurpose, LoginToken
from shipkey.privacy.retention import RETENTION_JOB, cut_ip, next_run, pseudonymise
from shipkey.storage import Storage
from shipkey.web.models import WebSignIn
from tests.downloads.books import make_pdf
from tests.factories import create_product, create_purchase, new_link, upload
from tests.jobs.helpers import Clock
from tests.portal.helpers import sign_in

UA = "Mozilla/5.0 (X11; Linux x86_64) Firefox/130.0"


def _sale(admin: TestClient, client: TestClient, *, stamp: bool = False) -> dict[str, Any]:
    """A software sale with a file: downloaded once, activated on one machine."""
    create_product(
        admin,
        slug="app",
        name="App",
        type="LICENSE",
        licenseType="PERPETUAL",
        keyPrefix="APP",
        stamp=stamp,
    )
    upload(admin, "app", make_pdf(["Page one"]), "app.pdf", "application/pdf")
    purchase = create_purchase(admin, "app", email="ada@example.com", name="Ada Lovelace")
    token = new_link(admin, purchase["id"])
    got = client.get(
        f"/api/download/{token}", headers={"User-Agent": UA, "X-Forwarded-For": "198.51.100.77"}
    )
    assert got.status_code == 200, got.text
    key = purchase["licenses"][0]["key"]
    activated = client.post(
        "/api/licenses/activate",
        json={"licenseKey": key, "machineId": "machine-1", "machineName": "Ada's laptop"},
    )
    assert activated.status_code == 200, activated.text
    return purchase


def _customer_id(db: Database, email: str) -> str:
    with db.read_session() as session:
        customer = session.scalars(select(Customer).where(Customer.email == email)).one()
        return customer.id


def test_the_export_holds_everything_kept_about_the_buyer(
    admin: TestClient, client: TestClient, db: Database
) -> None:
    purchase = _sale(admin, client)
    customer_id = _customer_id(db, "ada@example.com")
    answer = admin.get(f"/api/admin/customers/{customer_id}/export")
    assert answer.status_code == 200, answer.text
    data = answer.json()
    assert data["customer"]["email"] == "ada@example.com"
    assert data["customer"]["name"] == "Ada Lovelace"
    [bought] = data["purchases"]
    assert bought["id"] == purchase["id"]
    assert bought["amount"] == 0 or bought["amount"] >= 0
    assert any(d["userAgent"] == UA for d in bought["downloads"])
    [lic] = data["licenses"]
    [machine] = lic["activations"]
    assert machine["machineName"] == "Ada's laptop"
    assert machine["ip"] == "testclient"
    assert [m["to"] for m in data["emails"]] == ["ada@example.com"]
    assert "Ada" in data["emails"][0]["textBody"]
    assert admin.get("/api/admin/customers/cus_nope/export").status_code == 404
    assert client.get(f"/api/admin/customers/{customer_id}/export").status_code == 401


def test_a_signed_in_buyer_downloads_their_own_data(
    admin: TestClient, client: TestClient, db: Database
) -> None:
    _sale(admin, client)
    assert client.get("/account/export", follow_redirects=False).status_code in (302, 303)
    sign_in(client, db, "ada@example.com")
    page = client.get("/purchases")
    assert 'href="/account/export"' in page.text
    answer = client.get("/account/export")
    assert answer.status_code == 200
    assert answer.headers["content-disposition"].startswith("attachment")
    data = json.loads(answer.content)
    assert data["customer"]["email"] == "ada@example.com"
    assert len(data["sessions"]) == 1


def test_erasure_keeps_the_books_and_replaces_the_person(
    admin: TestClient, client: TestClient, db: Database, settings: Settings, storage: Storage
) -> None:
    purchase = _sale(admin, client, stamp=True)
    Worker(settings, db, storage).run_once()  # the stamped copy is built
    with db.read_session() as session:
        copy = session.get(StampedCopy, purchase["id"])
        assert copy is not None
        copy_key = copy.key
    assert storage.exists(copy_key)
    buyer = TestClient(client.app)
    sign_in(buyer, db, "ada@example.com")
    assert buyer.get("/purchases").status_code == 200
    # an e-mail still waiting in the outbox
    assert admin.post(f"/api/admin/purchases/{purchase['id']}/resend").status_code == 202
    customer_id = _customer_id(db, "ada@example.com")
    with db.read_session() as session:
        sent_before = set(
            session.scalars(select(MailMessage.id).where(MailMessage.status == MailStatus.SENT))
        )

    first = admin.post(f"/api/admin/customers/{customer_id}/erase")
    assert first.status_code == 200, first.text
    body = first.json()
    erased = f"erased-{customer_id}@invalid"
    assert body["customer"]["email"] == erased
    assert body["customer"]["name"] is None
    assert body["emailsStopped"] == 2  # the resend and the sign-in link were not sent yet
    assert body["sessionsEnded"] == 1
    assert body["stampedCopies"] == 1

    shown = admin.get(f"/api/admin/purchases/{purchase['id']}").json()
    assert shown["email"] == erased
    assert shown["name"] is None
    assert shown["id"] == purchase["id"]
    assert shown["createdAt"] == purchase["createdAt"]
    assert shown["amount"] == purchase["amount"]
    assert all(d["ipAddress"] is None and d["userAgent"] is None for d in shown["downloads"])
    with db.read_session() as session:
        activations = session.scalars(select(LicenseActivation)).all()
        assert [(a.ip, a.machine_name) for a in activations] == [(None, None)]
        messages = session.scalars(select(MailMessage)).all()
        assert {m.to_address for m in messages} == {erased}
        assert MailStatus.PENDING not in {m.status for m in messages}
        assert all("Ada" not in m.text_body for m in messages)
        assert session.scalars(select(WebSignIn)).all() == []

    # the buyer's session has ended; the worker deletes the copy and sends nothing
    assert buyer.get("/purchases", follow_redirects=False).status_code in (302, 303)
    Worker(settings, db, storage).run_once()
    assert not storage.exists(copy_key)
    with db.read_session() as session:
        assert session.get(StampedCopy, purchase["id"]) is None
        sent_after = session.scalars(
            select(MailMessage.id).where(MailMessage.status == MailStatus.SENT)
        )
        assert set(sent_after) == sent_before

    again = admin.post(f"/api/admin/customers/{customer_id}/erase")
    assert again.status_code == 200
    assert again.json()["customer"] == body["customer"]
    assert (
        admin.get(f"/api/admin/customers/{customer_id}/export").json()["customer"]
        == (body["customer"])
    )
    assert admin.post("/api/admin/customers/cus_nope/erase").status_code == 404


@pytest.mark.parametrize(
    ("address", "network"),
    [
        ("203.0.113.57", "203.0.113.0"),
        ("2001:db8:abcd:12:1:2:3:4", "2001:db8:abcd::"),
        ("::ffff:198.51.100.9", "198.51.100.0"),
        ("203.0.113.0", "203.0.113.0"),
        ("testclient", None),
        (None, None),
    ],
)
def test_addresses_are_cut_to_their_network(address: str | None, network: str | None) -> None:
    assert cut_ip(address) == network


def test_the_daily_job_cuts_old_addresses_and_drops_user_agents(
    admin: TestClient, client: TestClient, db: Database, settings: Settings, storage: Storage
) -> None:
    purchase = _sale(admin, client)
    clock = Clock()
    with db.session() as session:
        session.execute(update(Download).values(ip_address="203.0.113.57", user_agent=UA))
        session.execute(update(LicenseActivation).values(ip="2001:db8:abcd:12::1"))
    worker = Worker(settings, db, storage, clock=clock)
    worker.run_once()  # the delivery e-mail
    worker.registry.started(worker.ctx)  # what a worker does when it starts: the next run
    worker.registry.started(worker.ctx)  # a second worker queues nothing more
    with db.read_session() as session:
        [queued] = session.scalars(select(Job).where(Job.kind == RETENTION_JOB)).all()
        assert queued.run_at == next_run(clock.now)
        assert (queued.run_at.hour, queued.run_at.minute) == (3, 0)
    worker.run_once()  # the other daily jobs (the dashboard's count, the clean-up) if due
    with db.read_session() as session:
        waiting = session.get(Job, queued.id)
        assert waiting is not None
        assert waiting.status is JobStatus.QUEUED  # not before 03:00
    clock.now = queued.run_at
    while worker.run_once():
        pass
    with db.read_session() as session:
        ran = session.get(Job, queued.id)
        assert ran is not None
        assert ran.status is JobStatus.DONE
    with db.read_session() as session:  # nothing is old enough yet
        kept = {(d.ip_address, d.user_agent) for d in session.scalars(select(Download))}
        assert kept == {("203.0.113.57", UA)}

    clock.advance(days=settings.ip_retention_days + 1)
    while worker.run_once():  # every due job, the other daily ones included
        pass
    with db.read_session() as session:
        kept = {(d.ip_address, d.user_agent) for d in session.scalars(select(Download))}
        assert kept == {("203.0.113.0", None)}
        [activation] = session.scalars(select(LicenseActivation)).all()
        assert activation.ip == "2001:db8:abcd::"
        runs = session.scalars(
            select(Job).where(Job.kind == RETENTION_JOB).order_by(Job.run_at)
        ).all()
        # (the first run, done over 30 days ago, is gone: the daily clean-up removed it)
        assert {job.status for job in runs[:-1]} == {JobStatus.DONE}
        assert runs[-1].status is JobStatus.QUEUED
        assert runs[-1].run_at > clock.now
        assert runs[-1].run_at - clock.now <= timedelta(days=1)
    shown = admin.get(f"/api/admin/purchases/{purchase['id']}").json()
    assert shown["downloads"][0]["ipAddress"] == "203.0.113.0"


def test_the_command_line_exports_and_erases(
    env: dict[str, str], admin: TestClient, client: TestClient, db: Database
) -> None:
    from typer.testing import CliRunner

    from shipkey.audit.models import AuditEntry
    from shipkey.cli import app as cli_app

    _sale(admin, client)
    customer_id = _customer_id(db, "ada@example.com")
    runner = CliRunner()
    exported = runner.invoke(cli_app, ["customers", "export", customer_id])
    assert exported.exit_code == 0, exported.output
    assert json.loads(exported.output)["customer"]["email"] == "ada@example.com"
    erased = runner.invoke(cli_app, ["customers", "erase", customer_id])
    assert erased.exit_code == 0, erased.output
    assert f"erased-{customer_id}@invalid" in erased.output
    assert runner.invoke(cli_app, ["customers", "erase", "cus_nope"]).exit_code == 1
    with db.read_session() as session:
        last = session.scalars(select(AuditEntry).order_by(AuditEntry.seq.desc())).first()
        assert last is not None
        assert last.action == "cli.customers.erase"
        assert last.details == {"customer_id": customer_id}


def _used_sign_in(db: Database, email: str, address: str, used_at: datetime) -> None:
    with db.session() as session:
        token = portal.create_login_token(session, email, LoginPurpose.BUYER, "en")
        browser = Client(ip=address, user_agent=UA)
        assert portal.redeem_login(session, token, used_at, client=browser) is not None


def test_sign_ins_are_exported_cut_when_old_and_erased(
    admin: TestClient, client: TestClient, db: Database
) -> None:
    _sale(admin, client)
    now = utcnow()
    _used_sign_in(db, "ada@example.com", "203.0.113.57", now - timedelta(days=40))
    _used_sign_in(db, "ada@example.com", "2001:db8:abcd:12::1", now - timedelta(minutes=1))
    customer_id = _customer_id(db, "ada@example.com")
    exported = admin.get(f"/api/admin/customers/{customer_id}/export").json()
    used = [(s["ipAddress"], s["userAgent"]) for s in exported["signInLinks"] if s["usedAt"]]
    assert used == [("203.0.113.57", UA), ("2001:db8:abcd:12::1", UA)]

    with db.session() as session:
        assert pseudonymise(session, now - timedelta(days=30)) == 1
    with db.read_session() as session:
        kept = session.execute(
            select(LoginToken.ip_address, LoginToken.user_agent).order_by(LoginToken.used_at)
        ).all()
        assert [tuple(row) for row in kept] == [
            ("203.0.113.0", None),
            ("2001:db8:abcd:12::1", UA),
        ]

    assert admin.post(f"/api/admin/customers/{customer_id}/erase").status_code == 200
    with db.read_session() as session:
        assert session.scalars(select(LoginToken)).all() == []
