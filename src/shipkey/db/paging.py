"""Cursor paging for every list: newest first, stable under inserts.

A page is ordered by ``(created_at, id)`` descending and the cursor is the last row's pair, so
the next page is "rows strictly older than that pair" — a keyset condition an index on
``(created_at, id)`` answers without reading the rows before it. A row inserted while a client
pages (newer than the first page) never shifts the pages that follow: no row is skipped or seen
twice, which OFFSET paging cannot promise.

The cursor is opaque to clients (base64url of ``<ISO time>|<id>``); a cursor that does not
decode is refused with 400 ``INVALID_CURSOR``.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Generic, TypeVar

from sqlalchemy import Select, tuple_
from sqlalchemy.orm import InstrumentedAttribute, Session

from shipkey.errors import BadRequest

T = TypeVar("T")

DEFAULT_LIMIT = 20
MAX_LIMIT = 100


@dataclass(frozen=True)
class Cursor:
    created_at: datetime
    id: str


@dataclass(frozen=True)
class Page(Generic[T]):
    items: Sequence[T]
    next_cursor: str | None


def encode_cursor(created_at: datetime, row_id: str) -> str:
    moment = created_at.astimezone(UTC).isoformat()
    raw = f"{moment}|{row_id}".encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str) -> Cursor:
    """The position a cursor names; 400 ``INVALID_CURSOR`` for anything this module did not make."""
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        moment, _, row_id = base64.urlsafe_b64decode(padded.encode("ascii")).decode().partition("|")
        created_at = datetime.fromisoformat(moment)
    except (ValueError, UnicodeError, binascii.Error):
        raise BadRequest("The cursor is not one this list gave out.", "INVALID_CURSOR") from None
    if not row_id or created_at.tzinfo is None:
        raise BadRequest("The cursor is not one this list gave out.", "INVALID_CURSOR")
    return Cursor(created_at.astimezone(UTC), row_id)


def page(
    session: Session,
    statement: Select[T],
    *,
    created_at: InstrumentedAttribute[Any],
    row_id: InstrumentedAttribute[Any],
    limit: int = DEFAULT_LIMIT,
    cursor: str | None = None,
) -> Page[T]:
    """One page of ``statement`` (a select of one entity), newest first.

    ``created_at`` and ``row_id`` are the entity's columns that order the list; filters are the
    caller's ``where`` clauses on ``statement``.
    """
    limit = max(1, min(limit, MAX_LIMIT))
    if cursor:
        position = decode_cursor(cursor)
        statement = statement.where(
            tuple_(created_at, row_id) < tuple_(position.created_at, position.id)
        )
    statement = statement.order_by(created_at.desc(), row_id.desc()).limit(limit + 1)
    rows = list(session.scalars(statement))
    if len(rows) <= limit:
        return Page(rows, None)
    rows = rows[:limit]
    last = rows[-1]
    return Page(rows, encode_cursor(getattr(last, created_at.key), getattr(last, row_id.key)))
