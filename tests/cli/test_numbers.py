"""Numbers on the command line: digits of other scripts are refused, bounds are kept."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from shipkey.cli import app as cli
from tests.factories import product_with_file

runner = CliRunner()
ISSUE = ["license", "issue", "--product", "p", "--email", "a@example.com"]


@pytest.mark.parametrize(
    "args",
    [
        [*ISSUE, "--max-activations", "٣"],
        [*ISSUE, "--max-activations", "²"],
        [*ISSUE, "--days", "１"],
        ["products", "signed-url", "p", "--expires-in", "٣٦٠٠"],
        ["products", "signed-url", "p", "--expires-in", "⁵"],
    ],
)
def test_commands_refuse_other_digits(args: list[str], env: dict[str, str]) -> None:
    result = runner.invoke(cli, args)
    assert result.exit_code == 2, result.output
    assert "Invalid value" in result.output


@pytest.mark.parametrize("seconds", ["99999999999999", "0", "-5"])
def test_signed_url_lifetime_is_bounded(
    seconds: str, env: dict[str, str], admin: TestClient
) -> None:
    product_with_file(admin)
    result = runner.invoke(cli, ["products", "signed-url", "test-book", "--expires-in", seconds])
    assert result.exit_code == 2, (result.output, result.exception)
    assert "Invalid value for '--expires-in'" in result.output
