"""``shipkey products key-pool add|show``."""

from __future__ import annotations

from pathlib import Path

from fastapi.testclient import TestClient
from typer.testing import CliRunner

from shipkey.cli import app as cli
from tests.factories import create_product


def _app(admin: TestClient) -> None:
    create_product(admin, name="App", slug="app", type="LICENSE", licenseType="PERPETUAL")


def test_command_line_key_pool(env: dict[str, str], admin: TestClient, tmp_path: Path) -> None:
    _app(admin)
    keys = tmp_path / "keys.txt"
    keys.write_text("cli-key-1\ncli-key-2\ncli-key-1\n")
    runner = CliRunner()
    added = runner.invoke(cli, ["products", "key-pool", "add", "app", str(keys)])
    assert added.exit_code == 0, added.output
    assert "2 added, 1 duplicates, 2 available" in added.output
    shown = runner.invoke(cli, ["products", "key-pool", "show", "app"])
    assert "2 available" in shown.output
    missing = runner.invoke(cli, ["products", "key-pool", "add", "nope", str(keys)])
    assert missing.exit_code == 1
