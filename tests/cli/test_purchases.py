"""``shipkey purchases create`` and ``shipkey products signed-url``."""

from __future__ import annotations

from typer.testing import CliRunner

from shipkey.cli import app

runner = CliRunner()


def test_manual_purchase_and_signed_url(env: dict[str, str]) -> None:
    runner.invoke(app, ["demo"])
    sale = runner.invoke(
        app, ["purchases", "create", "--product", "field-guide", "--email", "a@example.com"]
    )
    assert sale.exit_code == 0, sale.output
    assert "COMPLETED" in sale.output
    assert "http://shop.example/api/download/" in sale.output
    bad = runner.invoke(app, ["purchases", "create", "--product", "nope", "--email", "a@b.co"])
    assert bad.exit_code == 1
    signed = runner.invoke(app, ["products", "signed-url", "field-guide", "--expires-in", "60"])
    assert signed.exit_code == 0, signed.output
    assert "http://shop.example/api/signed/products/" in signed.output
    listed = runner.invoke(app, ["products", "list"])
    assert "pixel-forge" in listed.output
