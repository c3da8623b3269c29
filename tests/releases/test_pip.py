"""The package index driven by the real pip, in a fresh virtual environment, against a live
server. pip reaches nothing but this index: ``--isolated`` ignores any pip configuration of
the machine, ``--no-deps`` keeps it from looking for dependencies."""

from __future__ import annotations

import os
import subprocess
import sys
import venv
from datetime import timedelta
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from shipkey.clock import utcnow
from shipkey.db.engine import Database
from tests.licensing.helpers import licensed_key
from tests.releases.helpers import backdate, expire, publish, wheel


@pytest.fixture(scope="module")
def pip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """pip of a fresh virtual environment."""
    home = tmp_path_factory.mktemp("venv")
    venv.EnvBuilder(with_pip=True).create(home)
    return home / "bin" / "pip"


def _pip(pip: Path, server: str, key: str, *args: str) -> subprocess.CompletedProcess[str]:
    host = server.removeprefix("http://")
    env = {k: v for k, v in os.environ.items() if not k.startswith("PIP_")}
    env["PIP_DISABLE_PIP_VERSION_CHECK"] = "1"
    return subprocess.run(
        [
            str(pip),
            *args[:1],
            "--isolated",
            "--no-input",
            "--disable-pip-version-check",
            "--index-url",
            f"http://license:{key}@{host}/pypi/pixel-app/simple/",
            "--no-cache-dir",
            "--no-deps",
            "--timeout",
            "30",
            *args[1:],
        ],
        capture_output=True,
        text=True,
        env=env,
        timeout=180,
        check=False,
    )


def _installed_version(target: Path) -> str:
    text = (target / "pixel_tools" / "__init__.py").read_text()
    return text.split('"')[1]


def _publish_wheels(admin: TestClient) -> dict[str, dict[str, object]]:
    releases = {}
    for version, channel in [
        ("1.0.0", "stable"),
        ("1.1.0", "stable"),
        ("1.2.0", "stable"),
        ("2.0.0b1", "beta"),
    ]:
        name, data = wheel("pixel-tools", version)
        releases[version] = publish(admin, version, {name: data}, channel=channel)
    yank = admin.post(
        f"/api/admin/releases/{releases['1.2.0']['id']}/yank", json={"reason": "corrupts files"}
    )
    assert yank.status_code == 200
    return releases


def test_pip_installs_the_newest_allowed_and_refuses_the_yanked(
    admin: TestClient, live_server: str, pip: Path, tmp_path: Path
) -> None:
    key = licensed_key(admin)
    _publish_wheels(admin)

    target = tmp_path / "newest"
    done = _pip(pip, live_server, key, "install", "--target", str(target), "pixel-tools")
    assert done.returncode == 0, done.stdout + done.stderr
    assert _installed_version(target) == "1.1.0"  # 1.2.0 is yanked, 2.0.0b1 a pre-release

    pre = tmp_path / "pre"
    done = _pip(pip, live_server, key, "install", "--pre", "--target", str(pre), "pixel-tools")
    assert done.returncode == 0, done.stdout + done.stderr
    assert _installed_version(pre) == "2.0.0b1"

    refused = _pip(
        pip, live_server, key, "download", "-d", str(tmp_path / "dl"), "pixel-tools==1.2.0"
    )
    assert refused.returncode != 0
    assert "410" in refused.stdout + refused.stderr
    assert not (tmp_path / "dl").exists() or not list((tmp_path / "dl").iterdir())


def test_pip_with_a_revoked_key_is_told_401(
    admin: TestClient, live_server: str, pip: Path, tmp_path: Path
) -> None:
    key = licensed_key(admin)
    _publish_wheels(admin)
    assert admin.post(f"/api/admin/licenses/{key}/revoke").status_code == 200
    # pip skips an index page it may not read, and says why with -vv
    done = _pip(
        pip, live_server, key, "install", "-vv", "--target", str(tmp_path / "t"), "pixel-tools"
    )
    assert done.returncode != 0
    assert "401 Client Error: Unauthorized" in done.stdout + done.stderr
    assert "No matching distribution found for pixel-tools" in done.stderr
    wrong = _pip(
        pip,
        live_server,
        "KEY-AAAAA-AAAAA-AAAAA-AAAAA-0000",
        "install",
        "-vv",
        "--target",
        str(tmp_path / "u"),
        "pixel-tools",
    )
    assert wrong.returncode != 0
    assert "401" in wrong.stdout + wrong.stderr


def test_pip_with_an_expired_key_installs_what_came_before(
    admin: TestClient, db: Database, live_server: str, pip: Path, tmp_path: Path
) -> None:
    key = licensed_key(admin)
    releases = _publish_wheels(admin)
    now = utcnow()
    for days, version in [(40, "1.0.0"), (20, "1.1.0"), (10, "1.2.0"), (5, "2.0.0b1")]:
        backdate(db, str(releases[version]["id"]), now - timedelta(days=days))
    expire(db, key, now - timedelta(days=30))
    target = tmp_path / "expired"
    done = _pip(pip, live_server, key, "install", "--pre", "--target", str(target), "pixel-tools")
    assert done.returncode == 0, done.stdout + done.stderr
    assert _installed_version(target) == "1.0.0"
    assert sys.version_info >= (3, 11)
