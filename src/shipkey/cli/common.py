"""What every command starts from: the settings from the environment, and the database."""

from __future__ import annotations

from typing import TYPE_CHECKING

import typer

from shipkey.terminal import err

if TYPE_CHECKING:
    from shipkey.config import Settings
    from shipkey.db.engine import Database

# Nothing heavy is imported at the top of the command modules: ``shipkey --help`` builds every
# command's options, and it should not wait for SQLAlchemy, pydantic or the app to load.


def settings() -> Settings:
    from shipkey.config import Settings

    return Settings()


def database(settings: Settings) -> Database:
    from shipkey.db.engine import Database

    return Database(settings.resolved_database_url)


def migrate_sqlite(settings: Settings, db: Database) -> None:
    """Apply pending migrations when the database is SQLite (a one-machine install)."""
    if settings.is_sqlite:
        from shipkey import migrate as migrations

        migrations.upgrade(db.engine)


def fail(message: str) -> typer.Exit:
    """Print ``message`` in red on standard error; the exit (code 1) to raise after it."""
    err().print(f"[red]{message}[/red]", highlight=False)
    return typer.Exit(1)
