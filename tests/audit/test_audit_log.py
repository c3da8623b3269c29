"""The audit log: admin actions through the API, the pages and the command line, each in its
change's transaction, hash-chained, checked by ``shipkey audit verify``; parallel actions
never fork the chain."""

from __future__ import annotations

import getpass
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select, text
from typer.testing import CliRunner

from shipkey.audit import service
from shipkey.audit.models import AuditEntry
from shipkey.cli import app as cli_app
from shipkey.db.engine import Database
from tests.conftest import ADMIN_TOKEN
from tests.factories import create_product

runner = CliRunner()


def entries(db: Database) -> list[AuditEntry]:
    with db.read_session() as session:
        return list(session.scalars(select(AuditEntry).order_by(AuditEntry.seq)))


def test_an_admin_api_change_is_recorded_with_who_what_where_and_the_change(
    admin: TestClient, db: Database
) -> None:
    create_product(admin, slug="book-one", name="Book One", price=900)
    [entry] = entries(db)
    assert entry.seq == 1
    assert entry.actor == "SHIPKEY_ADMIN_TOKEN"
    assert entry.action == "api.create_product"
    assert entry.ip_address == "testclient"
    assert entry.details["slug"] == "book-one"
    assert entry.details["price"] == 900

    page = admin.get("/api/admin/audit-log").json()
    [item] = page["items"]
    assert page["nextCursor"] is None
    assert item["id"] == entry.id
    assert item["actor"] == "SHIPKEY_ADMIN_TOKEN"
    assert item["action"] == "api.create_product"
    assert item["ipAddress"] == "testclient"
    assert item["details"]["slug"] == "book-one"
    assert item["hash"] == entry.hash
    assert len(item["hash"]) == 64


def test_reads_and_refused_changes_leave_no_entry(admin: TestClient, db: Database) -> None:
    create_product(admin, slug="book-one")
    assert admin.get("/api/admin/products").status_code == 200
    assert admin.post("/api/admin/purchases/pur_nope/refund").status_code == 404
    duplicate = admin.post(
        "/api/admin/products", json={"name": "Again", "slug": "book-one", "price": 1}
    )
    assert duplicate.status_code == 409
    assert [e.action for e in entries(db)] == ["api.create_product"]


def test_targets_filters_and_pages(admin: TestClient, db: Database) -> None:
    create_product(admin, slug="book-one")
    made = admin.post(
        "/api/admin/purchases", json={"product": "book-one", "email": "ada@example.com"}
    ).json()
    assert admin.post(f"/api/admin/purchases/{made['id']}/refund").status_code == 200
    [refund] = admin.get(f"/api/admin/audit-log?target={made['id']}").json()["items"]
    assert refund["action"] == "api.refund_purchase"
    actions = admin.get("/api/admin/audit-log?action=api.create_purchase").json()["items"]
    assert [item["details"]["email"] for item in actions] == ["ada@example.com"]
    assert admin.get("/api/admin/audit-log?actor=someone-else").json()["items"] == []

    first = admin.get("/api/admin/audit-log?limit=2").json()
    assert [item["seq"] for item in first["items"]] == [3, 2]
    second = admin.get(f"/api/admin/audit-log?limit=2&cursor={first['nextCursor']}").json()
    assert [item["seq"] for item in second["items"]] == [1]
    assert second["nextCursor"] is None
    bad = admin.get("/api/admin/audit-log?cursor=bm9uc2Vuc2U")
    assert bad.status_code == 400
    assert bad.json()["code"] == "INVALID_CURSOR"
    assert admin.get("/api/admin/audit-log?limit=0").status_code == 422
    assert TestClient(admin.app).get("/api/admin/audit-log").status_code == 401


def test_a_failed_sign_in_to_the_admin_api_is_recorded(client: TestClient, db: Database) -> None:
    answer = client.get("/api/admin/products", headers={"Authorization": "Bearer sk_wrong"})
    assert answer.status_code == 401
    [entry] = entries(db)
    assert entry.action == "sign_in.failed"
    assert entry.actor == "unknown"
    assert entry.details == {"via": "api", "path": "/api/admin/products"}
    assert "sk_wrong" not in str(entry.details)


def test_admin_pages_record_sign_ins_failed_sign_ins_and_actions(
    client: TestClient, admin: TestClient, db: Database
) -> None:
    create_product(admin, slug="book-one")
    made = admin.post(
        "/api/admin/purchases", json={"product": "book-one", "email": "ada@example.com"}
    ).json()
    login = client.get("/admin/login")
    csrf = _csrf(login.text)
    wrong = client.post("/admin/login", data={"csrf_token": csrf, "token": "not-it"})
    assert wrong.status_code == 401
    right = client.post("/admin/login", data={"csrf_token": csrf, "token": ADMIN_TOKEN})
    assert right.status_code in (200, 303)
    page = client.get(f"/admin/purchases/{made['id']}")
    posted = client.post(
        f"/admin/purchases/{made['id']}/resend", data={"csrf_token": _csrf(page.text)}
    )
    assert posted.status_code in (200, 303)
    actions = [(e.actor, e.action, e.target) for e in entries(db)]
    assert actions[-3:] == [
        ("unknown", "sign_in.failed", None),
        ("SHIPKEY_ADMIN_TOKEN", "sign_in", None),
        ("SHIPKEY_ADMIN_TOKEN", "page.purchase_action", f"{made['id']}/resend"),
    ]
    for entry in entries(db):
        assert "not-it" not in str(entry.details)
        assert ADMIN_TOKEN not in str(entry.details)
        assert "csrf_token" not in entry.details


def _csrf(html: str) -> str:
    marker = 'name="csrf_token" value="'
    start = html.index(marker) + len(marker)
    return html[start : html.index('"', start)]


def test_the_command_line_is_recorded_as_cli_user(
    env: dict[str, str], admin: TestClient, db: Database
) -> None:
    create_product(admin, slug="book-one")
    result = runner.invoke(
        cli_app, ["purchases", "create", "--product", "book-one", "--email", "ada@example.com"]
    )
    assert result.exit_code == 0, result.output
    last = entries(db)[-1]
    assert last.actor == f"cli:{getpass.getuser()}"
    assert last.action == "cli.purchases.create"
    assert last.details["email"] == "ada@example.com"


def test_verify_finds_the_first_broken_link(
    env: dict[str, str], admin: TestClient, db: Database
) -> None:
    for number in range(4):
        create_product(admin, slug=f"book-{number}")
    ok = runner.invoke(cli_app, ["audit", "verify"])
    assert ok.exit_code == 0, ok.output
    assert "OK: 4 entries" in ok.output

    with db.session() as session:
        session.execute(
            text("UPDATE audit_log SET actor = 'someone-else' WHERE seq = 2"),
        )
    broken = runner.invoke(cli_app, ["audit", "verify"])
    assert broken.exit_code == 1
    assert "Broken at entry 2" in broken.output
    with db.read_session() as session:
        assert service.verify(session).broken_seq == 2


def test_removing_the_newest_entry_is_found(admin: TestClient, db: Database) -> None:
    for number in range(3):
        create_product(admin, slug=f"book-{number}")
    with db.session() as session:
        session.execute(text("DELETE FROM audit_log WHERE seq = 3"))
    with db.read_session() as session:
        verdict = service.verify(session)
    assert not verdict.ok
    assert verdict.broken_seq == 3


def test_parallel_admin_actions_never_fork_the_chain(live_server: str, db: Database) -> None:
    def create(number: int) -> httpx.Response:
        with httpx.Client(
            base_url=live_server, headers={"Authorization": f"Bearer {ADMIN_TOKEN}"}, timeout=120
        ) as http:
            body: dict[str, Any] = {"name": f"Book {number}", "slug": f"book-{number}", "price": 1}
            return http.post("/api/admin/products", json=body)

    with ThreadPoolExecutor(max_workers=16) as pool:
        answers = list(pool.map(create, range(32)))
    assert [answer.status_code for answer in answers] == [201] * 32
    rows = entries(db)
    assert [row.seq for row in rows] == list(range(1, 33))
    assert len({row.prev_hash for row in rows}) == 32
    assert sorted(row.details["slug"] for row in rows) == sorted(f"book-{n}" for n in range(32))
    with db.read_session() as session:
        assert service.verify(session).ok


@pytest.mark.parametrize("value", ["x" * 2000, {"deep": {"er": {"and": {"deeper": 1}}}}])
def test_details_are_kept_small(value: Any) -> None:
    cleaned = service.clean(
        {"field": value, "token": "secret", "csrf_token": "c", "a\x00b": "\x00"}
    )
    assert cleaned["ab"] == ""
    assert "token" not in cleaned
    assert "csrf_token" not in cleaned
    assert len(str(cleaned["field"])) <= 600


def test_the_admin_page_searches_the_log(client: TestClient, admin: TestClient) -> None:
    create_product(admin, slug="book-one")
    create_product(admin, slug="book-two")
    assert client.get("/admin/audit-log", follow_redirects=False).status_code in (302, 303)
    csrf = _csrf(client.get("/admin/login").text)
    client.post("/admin/login", data={"csrf_token": csrf, "token": ADMIN_TOKEN})
    page = client.get("/admin/audit-log")
    assert page.status_code == 200
    assert 'href="/admin/audit-log" aria-current="page"' in page.text
    assert page.text.count("api.create_product") == 2
    found = client.get("/admin/audit-log", params={"action": "sign_in"})
    assert "api.create_product" not in found.text
    assert "SHIPKEY_ADMIN_TOKEN" in found.text
    german = client.get("/admin/audit-log", headers={"Accept-Language": "de"})
    assert "Protokoll" in german.text
