"""``shipkey migrate``, run in-process against the test database."""

from __future__ import annotations

from datetime import timedelta

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
