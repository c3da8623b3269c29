"""Group commit: work of concurrent requests in shared transactions, each all-or-nothing."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from typing import Any

import anyio
import pytest
from sqlalchemy import event, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from shipkey.clock import utcnow
from shipkey.db.engine import Database
from shipkey.db.group_commit import GroupCommit
from shipkey.ids import new_id
from shipkey.orders.models import Customer


def _add_customer(email: str) -> Callable[[Session], str]:
    def work(session: Session) -> str:
        session.add(Customer(id=new_id("cus"), email=email, created_at=utcnow()))
        session.flush()
        return email

    return work


def _emails(db: Database) -> list[str]:
    with db.read_session() as session:
        return sorted(session.scalars(select(Customer.email)))


@contextmanager
def _commits(db: Database) -> Iterator[list[object]]:
    seen: list[object] = []

    def count(conn: object) -> None:
        seen.append(conn)

    event.listen(db.engine, "commit", count)
    try:
        yield seen
    finally:
        event.remove(db.engine, "commit", count)


def _run(main: Callable[[], Awaitable[Any]]) -> Any:
    return asyncio.run(main())  # type: ignore[arg-type]


def test_work_that_arrives_together_is_committed_in_one_transaction(db: Database) -> None:
    group = GroupCommit(db, anyio.Semaphore(1), writers=1)
    emails = [f"buyer{i}@example.com" for i in range(20)]

    async def main() -> list[str]:
        return await asyncio.gather(*(group.run(_add_customer(email)) for email in emails))

    with _commits(db) as commits:
        results = _run(main)

    assert results == emails  # each request gets its own work's result
    assert len(commits) == 1
    assert _emails(db) == sorted(emails)


def test_work_that_raises_is_rolled_back_alone_and_its_request_gets_the_error(
    db: Database,
) -> None:
    group = GroupCommit(db, anyio.Semaphore(1), writers=1)

    def fails(session: Session) -> str:
        _add_customer("failed@example.com")(session)
        raise ValueError("not this one")

    works = [_add_customer("a@example.com"), fails, _add_customer("b@example.com")]

    async def main() -> list[Any]:
        return await asyncio.gather(*(group.run(w) for w in works), return_exceptions=True)

    first, error, last = _run(main)

    assert (first, last) == ("a@example.com", "b@example.com")
    assert isinstance(error, ValueError)
    assert _emails(db) == ["a@example.com", "b@example.com"]


def test_work_that_breaks_a_constraint_is_rolled_back_alone(db: Database) -> None:
    group = GroupCommit(db, anyio.Semaphore(1), writers=1)
    works = [_add_customer("same@example.com"), _add_customer("same@example.com")]

    async def main() -> list[Any]:
        return await asyncio.gather(*(group.run(w) for w in works), return_exceptions=True)

    kept, duplicate = _run(main)

    assert kept == "same@example.com"
    assert isinstance(duplicate, IntegrityError)
    assert _emails(db) == ["same@example.com"]


def test_a_failed_commit_fails_every_request_of_the_batch_and_keeps_nothing(
    db: Database,
) -> None:
    group = GroupCommit(db, anyio.Semaphore(1), writers=1)

    def disk_full(_session: Session) -> None:
        raise OSError("disk full")

    async def main() -> list[Any]:
        works = [_add_customer(f"b{i}@example.com") for i in range(5)]
        return await asyncio.gather(*(group.run(w) for w in works), return_exceptions=True)

    event.listen(Session, "before_commit", disk_full)
    try:
        results = _run(main)
    finally:
        event.remove(Session, "before_commit", disk_full)

    assert [type(r) for r in results] == [OSError] * 5
    assert _emails(db) == []


def test_work_of_a_request_cancelled_before_its_batch_is_not_run(db: Database) -> None:
    group = GroupCommit(db, anyio.Semaphore(1), writers=1)
    ran: list[str] = []

    def record(name: str) -> Callable[[Session], str]:
        def work(session: Session) -> str:
            ran.append(name)
            return name

        return work

    async def main() -> str:
        gone = asyncio.create_task(group.run(record("gone")))
        await asyncio.sleep(0)  # its work is queued, the writer not started yet
        gone.cancel()
        kept = await group.run(record("kept"))
        with pytest.raises(asyncio.CancelledError):
            await gone
        return kept

    assert _run(main) == "kept"
    assert ran == ["kept"]


def test_with_batches_of_one_each_piece_has_its_own_transaction(db: Database) -> None:
    """How the app runs it on PostgreSQL: transactions side by side, none shared."""
    group = GroupCommit(db, anyio.Semaphore(3), writers=3, batch=1)

    def fails(_session: Session) -> None:
        raise ValueError("only me")

    works: list[Callable[[Session], Any]] = [_add_customer(f"p{i}@example.com") for i in range(5)]
    works.insert(2, fails)

    async def main() -> list[Any]:
        return await asyncio.gather(*(group.run(w) for w in works), return_exceptions=True)

    with _commits(db) as commits:
        results = _run(main)

    assert isinstance(results.pop(2), ValueError)
    assert results == [f"p{i}@example.com" for i in range(5)]
    assert len(commits) == 5
    assert _emails(db) == sorted(results)


def test_each_event_loop_has_its_own_queue(db: Database) -> None:
    """A server restarted in the same process (or a test client) runs a new loop."""
    group = GroupCommit(db, anyio.Semaphore(1), writers=1)

    async def once(email: str) -> str:
        return await group.run(_add_customer(email))

    assert asyncio.run(once("first@example.com")) == "first@example.com"
    assert asyncio.run(once("second@example.com")) == "second@example.com"
    assert _emails(db) == ["first@example.com", "second@example.com"]
