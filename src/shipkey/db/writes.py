"""Writes past the ORM's unit of work: inserts that attach the new row, and conditional
UPDATEs (the counter and the check at once)."""

from __future__ import annotations

import functools
from typing import Any

from sqlalchemy import (
    Table,
    bindparam,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import (
    Session,
    configure_mappers,
    make_transient_to_detached,
)
from sqlalchemy.orm.attributes import set_committed_value

from shipkey.db.types import Base, ModelT


def insert_ignore(session: Session, model: type[Base], values: dict[str, Any]) -> bool:
    """``INSERT … ON CONFLICT DO NOTHING``; True when this call inserted the row."""
    stmt = _insert_statement(_table(model), session.get_bind().dialect.name, ignore=True)
    # rowcount of an INSERT is only reported when asked for (-1 otherwise on psycopg).
    result = _execute_insert(session, stmt, values, {"preserve_rowcount": True})
    return bool(getattr(result, "rowcount", 0) == 1)


def insert_ignore_many(session: Session, model: type[Base], rows: list[dict[str, Any]]) -> None:
    """:func:`insert_ignore` for many rows in one statement (executemany)."""
    stmt = _insert_statement(_table(model), session.get_bind().dialect.name, ignore=True)
    _execute_insert(session, stmt, rows, {})  # type: ignore[arg-type]


def insert_new(session: Session, model: type[ModelT], values: dict[str, Any]) -> ModelT | None:
    """:func:`insert_ignore`, and the new row as a persistent object when this call inserted it
    (None when the row was there already)."""
    if not insert_ignore(session, model, values):
        return None
    return _attach(session, model, values)


def insert_row(session: Session, model: type[ModelT], values: dict[str, Any]) -> ModelT:
    """``INSERT`` one row (IntegrityError as a flush would raise it); the row as a persistent
    object."""
    stmt = _insert_statement(_table(model), session.get_bind().dialect.name, ignore=False)
    _execute_insert(session, stmt, values, {})
    return _attach(session, model, values)


@functools.cache
def _nulls(table: Table) -> dict[str, None]:
    """The columns a row leaves NULL when an INSERT does not name them (no default)."""
    return {
        column.key: None
        for column in table.columns
        if column.default is None and column.server_default is None and column.nullable
    }


def _table(model: type[Base]) -> Table:
    table: Table = model.__table__  # type: ignore[assignment]
    return table


@functools.cache
def _insert_statement(table: Table, dialect: str, *, ignore: bool) -> Any:
    if not ignore:
        return table.insert()
    if dialect == "postgresql":
        return postgresql.insert(table).on_conflict_do_nothing()
    if dialect == "sqlite":
        return sqlite.insert(table).on_conflict_do_nothing()
    raise RuntimeError(f"unsupported database {dialect}")  # pragma: no cover


def _execute_insert(
    session: Session, stmt: Any, values: dict[str, Any], options: dict[str, Any]
) -> Any:
    session.flush()  # pending objects first (rows this one may refer to)
    return session.connection().execute(stmt, values, execution_options=options)


def _attach(session: Session, model: type[ModelT], values: dict[str, Any]) -> ModelT:
    # The values as loaded ones (no attribute events, no change history): the row is saved.
    configure_mappers()  # as the model's constructor would (at once when done already)
    row: ModelT = model.__mapper__.class_manager.new_instance()
    row.__dict__.update(_nulls(_table(model)) | values)
    make_transient_to_detached(row)
    session.add(row)
    return row


def conditional_update(model: type[Base], *when: Any, columns: tuple[str, ...]) -> Any:
    """``UPDATE <table> SET <columns> WHERE id = :id AND <when>``, made once (keep it in a
    constant or a cache) and run by :func:`update_if` with its values as parameters."""
    table = _table(model)
    return (
        table.update()
        .where(table.c.id == bindparam("_row_id"), *when)
        .values({name: bindparam(f"_new_{name}") for name in columns})
    )


def update_if(session: Session, row: Any, stmt: Any, values: dict[str, Any]) -> bool:
    """Run a :func:`conditional_update` on ``row``; True when it matched.

    When it matched, ``row`` shows the new values as saved (without reading the row back); when
    it did not, ``row`` is read again, so the caller sees the state that won.
    """
    params = {"_row_id": row.id} | {f"_new_{name}": value for name, value in values.items()}
    session.flush()
    matched = rowcount(session.connection().execute(stmt, params)) == 1
    if matched:
        for name, value in values.items():
            set_committed_value(row, name, value)
    else:
        session.refresh(row)
    return matched


def rowcount(result: Any) -> int:
    """Rows matched by an UPDATE/DELETE (the result of ``session.execute``)."""
    return int(result.rowcount)
