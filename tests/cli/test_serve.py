"""``shipkey migrate``, run in-process against the test database."""

from __future__ import annotations

from typer.testing import CliRunner

from shipkey.cli import app

runner = CliRunner()


def test_migrate_is_idempotent(env: dict[str, str]) -> None:
    for _ in range(2):
        result = runner.invoke(app, ["migrate"])
        assert result.exit_code == 0, result.output
        assert "up to date" in result.output
