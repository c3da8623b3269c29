"""``shipkey migrate``, run in-process against the test database."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

from sqlalchemy import delete, select
from typer.testing import CliRunner

from shipkey.admin_ui.models import DashboardDay
from shipkey.cli import app
from shipkey.clock import utcnow
from shipkey.db.engine import Database

runner = CliRunner()


def test_migrate_is_idempotent(env: dict[str, str]) -> None:
    for _ in range(2):
        result = runner.invoke(app, ["migrate"])
        assert result.exit_code == 0, result.output
        assert "up to date" in result.output


def test_migrate_counts_the_dashboards_settled_days(env: dict[str, str], db: Database) -> None:
    with db.session() as session:
        session.execute(delete(DashboardDay))
    result = runner.invoke(app, ["migrate"])
    assert result.exit_code == 0, result.output
    with db.read_session() as session:
        kept = session.scalars(select(DashboardDay.day).where(DashboardDay.metric == "downloads"))
        days = set(kept)
    today = utcnow().date()
    # every settled day of the dashboard's 30 (two days old and older) is kept, none newer
    assert days == {(today - timedelta(days=n)).isoformat() for n in range(2, 30)}


def _shipkey(data_dir: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "SHIPKEY_DATA_DIR": str(data_dir)}
    env.pop("SHIPKEY_DATABASE_URL", None)
    return subprocess.run(
        [sys.executable, "-m", "shipkey", *args],
        env=env,
        cwd=data_dir.parent,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_a_command_before_migrate_says_to_migrate_and_leaves_no_file(tmp_path: Path) -> None:
    data_dir = tmp_path / "var"
    missing = _shipkey(data_dir, "products", "list")  # no data dir yet: no database file
    assert missing.returncode == 1
    assert "shipkey migrate" in missing.stderr
    assert "Traceback" not in missing.stderr
    assert not (data_dir / "shipkey.db").exists()  # no empty database left behind

    data_dir.mkdir(exist_ok=True)
    sqlite3.connect(data_dir / "shipkey.db").close()  # a file without shipkey's tables
    for command in (["products", "list"], ["license", "show", "NOPE-KEY"], ["webhooks", "list"]):
        empty = _shipkey(data_dir, *command)
        assert empty.returncode == 1, command
        assert "no shipkey tables yet" in empty.stderr, (command, empty.stderr)
        assert "Traceback" not in empty.stderr
