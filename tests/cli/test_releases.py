"""``shipkey releases publish``: a version and its files over the admin API."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

from fastapi.testclient import TestClient
from typer.testing import CliRunner

from shipkey.cli import app
from tests.conftest import ADMIN_TOKEN
from tests.licensing.helpers import licensed_product

runner = CliRunner()


def test_publish_uploads_every_file_and_resumes(
    admin: TestClient, live_server: str, tmp_path: Path
) -> None:
    licensed_product(admin)
    first, second = tmp_path / "pixel-linux.tar.gz", tmp_path / "pixel-linux.deb"
    first.write_bytes(os.urandom(3 * 1024 * 1024 + 5))
    second.write_bytes(b"deb")
    args = ["releases", "publish", "pixel-app", "2.0.0-beta.1", str(first)]
    options = ["--channel", "beta", "--platform", "linux", "--arch", "x86_64"]
    options += ["--url", live_server, "--token", ADMIN_TOKEN]
    result = runner.invoke(app, [*args, *options])
    assert result.exit_code == 0, result.output
    assert f"SHA-256 {hashlib.sha256(first.read_bytes()).hexdigest()}" in result.output
    # again, with one more file: the release is found, only the new file goes up
    result = runner.invoke(app, [*args, str(second), *options])
    assert result.exit_code == 0, result.output
    assert "pixel-linux.tar.gz is already part of 2.0.0-beta.1" in result.output
    listed = admin.get("/api/admin/products/pixel-app/releases").json()
    assert len(listed) == 1
    assert listed[0]["channel"] == "beta"
    artifacts = {a["fileName"]: a for a in listed[0]["artifacts"]}
    assert set(artifacts) == {"pixel-linux.tar.gz", "pixel-linux.deb"}
    assert artifacts["pixel-linux.deb"]["platform"] == "linux"
    assert artifacts["pixel-linux.deb"]["arch"] == "x86_64"


def test_publish_refusals(admin: TestClient, live_server: str, tmp_path: Path) -> None:
    licensed_product(admin)
    path = tmp_path / "f.zip"
    path.write_bytes(b"x")
    base = ["releases", "publish", "pixel-app"]
    result = runner.invoke(
        app, [*base, "banana", str(path), "--url", live_server, "--token", ADMIN_TOKEN]
    )
    assert result.exit_code == 1
    assert "not a version" in result.output
    result = runner.invoke(app, [*base, "1.0", str(path), "--url", live_server, "--token", ""])
    assert result.exit_code == 2
