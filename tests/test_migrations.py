"""The migrations build exactly the schema the models describe, on both databases."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext

from shipkey import migrate
from shipkey.db.engine import Database
from shipkey.db.types import Base, in_schema_of


def test_migrations_match_the_models(db: Database) -> None:
    with db.engine.connect() as conn:
        include = in_schema_of(conn.dialect.name)
        context = MigrationContext.configure(
            conn, opts={"compare_type": True, "include_object": include}
        )
        diff = compare_metadata(context, Base.metadata)
    assert diff == []


def test_nothing_is_pending_and_upgrade_is_idempotent(db: Database) -> None:
    assert not migrate.pending(db.engine)
    migrate.upgrade(db.engine)
    assert not migrate.pending(db.engine)
