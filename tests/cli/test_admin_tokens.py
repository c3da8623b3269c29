"""``shipkey admin-token …``."""

from __future__ import annotations

from typer.testing import CliRunner

from shipkey.admin import service as admin_service
from shipkey.cli import app
from shipkey.config import Settings
from shipkey.db.engine import Database

runner = CliRunner()


def test_admin_token_create_list_revoke(env: dict[str, str], db: Database) -> None:
    created = runner.invoke(app, ["admin-token", "create", "--name", "ci"])
    assert created.exit_code == 0, created.output
    raw = created.output.strip()
    assert raw.startswith("sk_admin_")
    with db.read_session() as session:
        token = admin_service.find_token(session, raw)
        assert token is not None
        assert token.token_hash != raw
        token_id = token.id
    listed = runner.invoke(app, ["admin-token", "list"])
    assert token_id in listed.output
    assert raw not in listed.output
    assert runner.invoke(app, ["admin-token", "revoke", token_id]).exit_code == 0
    assert runner.invoke(app, ["admin-token", "revoke", token_id]).exit_code == 1
    with db.read_session() as session:
        assert admin_service.find_token(session, raw) is None


def test_created_token_opens_the_admin_api(env: dict[str, str], settings: Settings) -> None:
    from fastapi.testclient import TestClient

    from shipkey.app import create_app

    raw = runner.invoke(app, ["admin-token", "create"]).output.strip()
    plain = Settings(_env_file=None)
    with TestClient(create_app(plain)) as client:
        ok = client.get("/api/admin/products", headers={"Authorization": f"Bearer {raw}"})
        assert ok.status_code == 200
        revoked = client.get("/api/admin/products", headers={"Authorization": "Bearer sk_admin_x"})
        assert revoked.status_code == 401


def test_revoking_a_token_ends_the_admin_pages_signed_in_with_it(
    env: dict[str, str], settings: Settings, db: Database
) -> None:
    from fastapi.testclient import TestClient

    from shipkey.app import create_app
    from tests.admin_ui.helpers import admin_sign_in

    raw = runner.invoke(app, ["admin-token", "create", "--name", "laptop"]).output.strip()
    with db.read_session() as session:
        token = admin_service.find_token(session, raw)
        assert token is not None
        token_id = token.id
    with TestClient(create_app(settings, db=db)) as client:
        admin_sign_in(client, raw)
        assert client.get("/admin").url.path == "/admin"
        assert runner.invoke(app, ["admin-token", "revoke", token_id]).exit_code == 0
        assert client.get("/admin").url.path == "/admin/login"
