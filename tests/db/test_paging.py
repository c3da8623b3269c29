"""Cursor paging: newest first, every row once, stable while rows are inserted."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from shipkey.db.paging import decode_cursor, encode_cursor, page
from shipkey.errors import BadRequest
from shipkey.hooks.models import OutboundEvent

START = datetime(2026, 1, 1, tzinfo=UTC)


def _add(session: Session, n: int, *, at: datetime, prefix: str = "msg_") -> None:
    # Several rows share one instant, so the id must break ties.
    for i in range(n):
        session.add(OutboundEvent(id=f"{prefix}{i:04d}", type="ping", data={}, created_at=at))
    session.flush()


def _all_pages(session: Session, limit: int) -> list[str]:
    seen: list[str] = []
    cursor: str | None = None
    while True:
        result = page(
            session,
            select(OutboundEvent),
            created_at=OutboundEvent.created_at,
            row_id=OutboundEvent.id,
            limit=limit,
            cursor=cursor,
        )
        seen.extend(row.id for row in result.items)
        if result.next_cursor is None:
            return seen
        cursor = result.next_cursor


def test_pages_walk_every_row_once_newest_first(session: Session) -> None:
    _add(session, 7, at=START)
    _add(session, 5, at=START + timedelta(seconds=1), prefix="msg_b")
    ids = _all_pages(session, limit=3)
    assert len(ids) == len(set(ids)) == 12
    expected = sorted(
        session.scalars(select(OutboundEvent)).all(),
        key=lambda r: (r.created_at, r.id),
        reverse=True,
    )
    assert ids == [row.id for row in expected]


def test_inserts_while_paging_neither_skip_nor_repeat(session: Session) -> None:
    _add(session, 6, at=START)
    first = page(
        session,
        select(OutboundEvent),
        created_at=OutboundEvent.created_at,
        row_id=OutboundEvent.id,
        limit=4,
    )
    _add(session, 3, at=START + timedelta(minutes=5), prefix="msg_new")
    rest = page(
        session,
        select(OutboundEvent),
        created_at=OutboundEvent.created_at,
        row_id=OutboundEvent.id,
        limit=4,
        cursor=first.next_cursor,
    )
    ids = [r.id for r in first.items] + [r.id for r in rest.items]
    assert sorted(ids) == [f"msg_{i:04d}" for i in range(6)]
    assert rest.next_cursor is None


def test_the_last_page_has_no_cursor(session: Session) -> None:
    _add(session, 2, at=START)
    result = page(
        session,
        select(OutboundEvent),
        created_at=OutboundEvent.created_at,
        row_id=OutboundEvent.id,
        limit=2,
    )
    assert len(result.items) == 2
    assert result.next_cursor is None


def test_cursor_round_trip() -> None:
    cursor = decode_cursor(encode_cursor(START, "pur_x"))
    assert (cursor.created_at, cursor.id) == (START, "pur_x")


@pytest.mark.parametrize("bad", ["", "x", "!!!!", "bm90IGEgY3Vyc29y", "MjAyNi0wMS0wMXw"])
def test_foreign_cursors_are_refused(bad: str) -> None:
    with pytest.raises(BadRequest) as refused:
        decode_cursor(bad)
    assert refused.value.code == "INVALID_CURSOR"
