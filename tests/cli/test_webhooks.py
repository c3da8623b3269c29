"""``shipkey webhooks …``: create, list, test, secret, delete."""

from __future__ import annotations

import re

from sqlalchemy import select
from typer.testing import CliRunner

from shipkey.cli import app
from shipkey.db.engine import Database
from shipkey.hooks.models import OutboundEvent, WebhookEndpoint

runner = CliRunner()


def test_webhooks_create_list_test_secret_delete(env: dict[str, str], db: Database) -> None:
    created = runner.invoke(
        app, ["webhooks", "create", "https://example.com/hook", "-e", "license.created"]
    )
    assert created.exit_code == 0, created.output
    endpoint_id = re.search(r"Endpoint (ep_\w+)", created.output).group(1)  # type: ignore[union-attr]
    secret = re.search(r"(whsec_\S+)", created.output).group(1)  # type: ignore[union-attr]
    with db.read_session() as session:
        endpoint = session.get(WebhookEndpoint, endpoint_id)
        assert endpoint is not None
        assert (endpoint.secret, endpoint.events) == (secret, ["license.created"])

    listed = runner.invoke(app, ["webhooks", "list"])
    assert endpoint_id in listed.output
    assert secret not in listed.output
    assert runner.invoke(app, ["webhooks", "secret", endpoint_id]).output.strip() == secret
    tested = runner.invoke(app, ["webhooks", "test", endpoint_id])
    assert tested.exit_code == 0, tested.output
    with db.read_session() as session:
        assert session.scalars(select(OutboundEvent.type)).all() == ["ping"]

    assert runner.invoke(app, ["webhooks", "delete", endpoint_id]).exit_code == 0
    missing = runner.invoke(app, ["webhooks", "delete", endpoint_id])
    assert missing.exit_code == 1
    assert "No webhook endpoint has this id." in missing.output


def test_bad_urls_and_types_are_refused(env: dict[str, str]) -> None:
    for args in (["ftp://example.com"], ["https://example.com", "-e", "purchase.exploded"]):
        refused = runner.invoke(app, ["webhooks", "create", *args])
        assert refused.exit_code == 1
        assert "Refused" in refused.output
