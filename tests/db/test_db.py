"""The helpers every table uses: ids, and the inserts and updates of the hot paths."""

from __future__ import annotations

import asyncio
import re
import threading
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import event, literal_column, select, table, text
from sqlalchemy.exc import DBAPIError, IntegrityError, OperationalError

from shipkey.clock import utcnow
from shipkey.db.engine import QUICK_READERS, Database
from shipkey.db.reads import BatchRead, DirectRead
from shipkey.db.writes import conditional_update, insert_new, insert_row, update_if
from shipkey.ids import ID_ALPHABET, new_id, random_string
from shipkey.licensing import keys
from shipkey.licensing.validation import (
    _VALIDATION_BATCH,
    _VALIDATION_LOOKUP,
    Sightings,
    Validation,
    check,
)
from shipkey.orders.models import Customer
from tests.licensing.helpers import (
    CHECKSUM_SECRET,
    activate,
    buy,
    count_queries,
    licensed_key,
    set_expiry,
)


def test_new_id_has_prefix_and_twenty_base36_characters() -> None:
    ident = new_id("pur")
    assert re.fullmatch(r"pur_[0-9a-z]{20}", ident)
    assert len({new_id("pur") for _ in range(1000)}) == 1000


def test_random_string_uses_only_the_alphabet_at_the_given_length() -> None:
    for length in (1, 5, 20, 40):
        text = random_string("AB7", length)
        assert len(text) == length
        assert set(text) <= set("AB7")


def test_random_string_spreads_over_every_character_and_position() -> None:
    draws = [random_string(ID_ALPHABET, 20) for _ in range(2000)]
    counts = Counter("".join(draws))
    assert set(counts) == set(ID_ALPHABET)
    expected = 2000 * 20 / len(ID_ALPHABET)  # about 1,111 each
    assert all(0.75 * expected < n < 1.25 * expected for n in counts.values())
    for position in (0, 10, 19):  # the highest digit is not biased towards small characters
        column = Counter(draw[position] for draw in draws)
        assert len(column) == len(ID_ALPHABET)
        assert max(column.values()) < 3 * 2000 / len(ID_ALPHABET)


# --- inserts and conditional updates that skip the unit of work --------------------------


def _customer(email: str) -> dict[str, object]:
    return {
        "id": new_id("cus"),
        "email": email,
        "name": None,
        "locale": "en",
        "created_at": utcnow(),
    }


def _count_statements(db: Database) -> list[str]:
    statements: list[str] = []
    event.listen(
        db.engine,
        "before_cursor_execute",
        lambda _c, _cur, statement, *_: statements.append(statement),
    )
    return statements


def test_insert_new_gives_the_row_without_reading_it_back(db: Database) -> None:
    statements = _count_statements(db)
    with db.session() as session:
        made = insert_new(session, Customer, _customer("a@example.com"))
        assert made is not None
        assert made.email == "a@example.com"
        assert made.name is None  # a column left NULL is known, not loaded
        assert session.get(Customer, made.id) is made
        assert made not in session.dirty  # saved: nothing to flush
        made.name = "Ada"  # a change made afterwards is saved as any other
    assert not [s for s in statements if s.lstrip().upper().startswith("SELECT")]
    assert len([s for s in statements if s.lstrip().upper().startswith("UPDATE")]) == 1
    with db.session() as session:
        assert insert_new(session, Customer, _customer("a@example.com")) is None  # unique email
        stored = session.scalars(select(Customer)).one()
        assert stored.id == made.id
        assert stored.locale == "en"
        assert stored.name == "Ada"


def test_an_insert_writes_the_objects_waiting_in_the_session_first(db: Database) -> None:
    statements = _count_statements(db)
    with db.session() as session:
        session.add(Customer(**_customer("first@example.com")))
        insert_row(session, Customer, _customer("second@example.com"))
    inserts = [s for s in statements if s.lstrip().upper().startswith("INSERT")]
    assert len(inserts) == 2
    with db.read_session() as session:
        emails = session.scalars(select(Customer.email).order_by(Customer.email))
        assert list(emails) == ["first@example.com", "second@example.com"]


def test_insert_row_raises_on_a_duplicate_and_keeps_the_transaction_usable(db: Database) -> None:
    with db.session() as session:
        insert_row(session, Customer, _customer("b@example.com"))
        with pytest.raises(IntegrityError), session.begin_nested():
            insert_row(session, Customer, _customer("b@example.com"))
        insert_row(session, Customer, _customer("c@example.com"))
    with db.read_session() as session:
        assert sorted(session.scalars(select(Customer.email))) == ["b@example.com", "c@example.com"]


def test_update_if_shows_its_values_when_it_matched_and_the_winner_when_not(db: Database) -> None:
    unnamed = conditional_update(Customer, Customer.name.is_(None), columns=("name",))
    with db.session() as session:
        customer = insert_row(session, Customer, _customer("d@example.com"))
        assert update_if(session, customer, unnamed, {"name": "First"})
        assert customer.name == "First"
        assert customer not in session.dirty  # saved, nothing left to flush
        with session.no_autoflush:
            customer.name = "Changed in memory only"
        session.flush()
        # The row has a name now, so the condition fails: the row is read again.
        assert not update_if(session, customer, unnamed, {"name": "Second"})
        assert customer.name == "Changed in memory only"
    with db.read_session() as session:
        assert session.scalars(select(Customer.name)).one() == "Changed in memory only"


# --- the quick read connection -------------------------------------------------------------


def test_read_connection_stays_open_per_thread_on_sqlite(tmp_path: Path) -> None:
    db = Database(f"sqlite:///{tmp_path / 'held.db'}")
    try:
        with db.read_connection() as first:
            assert first.execute(text("SELECT 1")).scalar() == 1
        with db.read_connection() as again:
            assert again is first  # no checkout: the thread keeps it
        seen: list[object] = []

        def other_thread() -> None:
            with db.read_connection() as conn:
                seen.append(conn)

        worker = threading.Thread(target=other_thread)
        worker.start()
        worker.join()
        assert seen
        assert seen[0] is not first  # never shared between threads
    finally:
        db.dispose()
    assert first.closed


def test_a_read_connection_that_failed_is_replaced(tmp_path: Path) -> None:
    db = Database(f"sqlite:///{tmp_path / 'held.db'}")
    try:
        with pytest.raises(OperationalError), db.read_connection() as broken:
            broken.execute(text("SELECT * FROM no_such_table"))
        assert broken.closed
        with db.read_connection() as fresh:
            assert fresh is not broken
            assert fresh.execute(text("SELECT 2")).scalar() == 2
    finally:
        db.dispose()


def test_read_connection_sees_each_commit_at_once(db: Database) -> None:
    with db.read_connection() as conn:
        assert conn.execute(select(Customer.email)).all() == []
    with db.session() as session:
        insert_row(session, Customer, _customer("e@example.com"))
    with db.read_connection() as conn:  # the same connection on SQLite: no old snapshot
        assert conn.execute(select(Customer.email)).scalars().all() == ["e@example.com"]


def test_read_first_reads_on_the_event_loop_as_core_would(admin: TestClient, db: Database) -> None:
    key = licensed_key(admin)
    params = {"key": key, "machine_id": None}
    with db.read_connection() as conn:
        core = conn.execute(_VALIDATION_LOOKUP.statement, params).first()
    assert core is not None

    async def reads() -> list[tuple[object, ...] | None]:
        return list(
            await asyncio.gather(
                *(db.read_first(_VALIDATION_LOOKUP, params) for _ in range(3 * QUICK_READERS))
            )
        )

    assert asyncio.run(reads()) == [tuple(core)] * (3 * QUICK_READERS)
    if db.is_sqlite:
        assert not db._all_loop_readers  # read right there, on the loop's thread
        return
    [readers] = db._all_loop_readers  # a few connections of the loop's own, shared in turn
    opened = list(readers.open)
    assert 1 <= len(opened) <= QUICK_READERS
    assert not any(conn.closed for conn in opened)
    db.dispose()
    assert all(conn.closed for conn in opened)


@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
def test_connections_of_loops_that_ended_are_closed(db: Database) -> None:
    none = {"key": "NOPE", "machine_id": None}
    first = asyncio.new_event_loop()
    first.run_until_complete(db.read_first(_VALIDATION_LOOKUP, none))
    [earlier] = db._all_loop_readers
    opened = list(earlier.open)
    first.close()
    assert asyncio.run(db.read_first(_VALIDATION_LOOKUP, none)) is None  # a new loop
    assert opened
    assert all(conn.closed for conn in opened)
    assert earlier not in db._all_loop_readers


@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
def test_reads_that_arrive_together_are_made_as_one_statement(
    admin: TestClient, db: Database
) -> None:
    first = licensed_key(admin)
    _, second = buy(admin)
    activate(admin, first, "m1")
    activate(admin, second, "m2")
    asked = [
        (first, "m1", "VALID"),
        (first, "m2", "NOT_ACTIVATED"),
        (second, "m2", "VALID"),
        (second, None, "VALID"),
        (first.lower(), "m1", "VALID"),
        ("PIX-AAAAA-AAAAA-AAAAA-AAAAA-0000", None, "INVALID_FORMAT"),  # refused before any read
        (keys.generate_key("PIX", CHECKSUM_SECRET), "m1", "NOT_FOUND"),
        (first, "m1", "VALID"),  # the same key and machine twice in one batch
    ] * 3

    async def together() -> list[tuple[Validation, Sightings]]:
        return list(
            await asyncio.gather(
                *(check(db, CHECKSUM_SECRET, key, machine) for key, machine, _ in asked)
            )
        )

    with count_queries(db.engine) as statements:
        answers = asyncio.run(together())
    assert [validation.code for validation, _ in answers] == [code for *_, code in asked]
    assert statements == [_VALIDATION_BATCH.read.sql(db.engine.dialect)]  # one, for all
    seat = answers[0][0].license
    assert seat is not None
    assert seat.key == first
    assert answers[2][0].license is not None
    assert answers[2][0].license.key == second


@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
def test_a_value_the_driver_refuses_fails_its_own_read_not_the_others(
    admin: TestClient, db: Database
) -> None:
    key = licensed_key(admin)
    activate(admin, key, "m1")
    machines = ["m1", "m1\x00", "m1", "\ud800", "m1"]

    async def together() -> list[Any]:
        return list(
            await asyncio.gather(
                *(check(db, CHECKSUM_SECRET, key, machine) for machine in machines),
                return_exceptions=True,
            )
        )

    with count_queries(db.engine) as statements:
        answers = asyncio.run(together())
    for index in (0, 2, 4):
        assert answers[index][0].code == "VALID"
    assert isinstance(answers[1], DBAPIError)  # as before batching: the request's own 400
    assert isinstance(answers[3], UnicodeEncodeError)
    assert statements.count(_VALIDATION_BATCH.read.sql(db.engine.dialect)) == 1


@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
def test_a_batch_that_fails_fails_each_of_its_reads_and_a_cancelled_one_leaves_the_rest(
    db: Database,
) -> None:
    none = {"key": "NOPE", "machine_id": None}
    columns: list[Any] = [literal_column("1"), literal_column("1 / 0")]
    broken = BatchRead(select(*columns), {"key": "keys"})

    async def scenario() -> tuple[list[Any], list[Any]]:
        failing = await asyncio.gather(
            *(db.read_first(_VALIDATION_LOOKUP, none, batch=broken) for _ in range(3)),
            return_exceptions=True,
        )
        tasks = [
            asyncio.create_task(db.read_first(_VALIDATION_LOOKUP, none, batch=_VALIDATION_BATCH))
            for _ in range(5)
        ]
        await asyncio.sleep(0)  # all five are waiting for the same statement
        tasks[1].cancel()
        rest = await asyncio.gather(*tasks, return_exceptions=True)
        return failing, rest

    failing, rest = asyncio.run(scenario())
    assert all(isinstance(error, DBAPIError) for error in failing)
    assert "division by zero" in str(failing[0])
    assert isinstance(rest[1], asyncio.CancelledError)
    assert [found for index, found in enumerate(rest) if index != 1] == [None] * 4
    [readers] = db._all_loop_readers
    assert len(readers.free) == QUICK_READERS  # every place is back


@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
def test_a_cancelled_read_gives_its_place_back(db: Database) -> None:
    none = {"key": "NOPE", "machine_id": None}

    async def cancel_many_then_read() -> tuple[object, ...] | None:
        tasks = [
            asyncio.create_task(db.read_first(_VALIDATION_LOOKUP, none))
            for _ in range(4 * QUICK_READERS)
        ]
        await asyncio.sleep(0)  # some hold a place, the rest wait for one
        for task in tasks[::2]:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        return await asyncio.wait_for(db.read_first(_VALIDATION_LOOKUP, none), 15)

    assert asyncio.run(cancel_many_then_read()) is None
    [readers] = db._all_loop_readers
    assert len(readers.free) == QUICK_READERS  # every place is back
    assert not readers.waiting


@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
def test_a_loop_read_whose_connection_the_server_dropped_is_retried(db: Database) -> None:
    none = {"key": "NOPE", "machine_id": None}

    async def scenario() -> tuple[object, ...] | None:
        await db.read_first(_VALIDATION_LOOKUP, none)
        [readers] = db._all_loop_readers
        pids = [conn.info.backend_pid for conn in readers.open]
        with db.engine.connect() as admin:
            for pid in pids:
                admin.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
            admin.commit()
        await asyncio.sleep(0.2)
        found = await db.read_first(_VALIDATION_LOOKUP, none)
        assert all(conn.info.backend_pid not in pids for conn in readers.open)
        return found

    assert asyncio.run(scenario()) is None


def test_a_postgresql_read_connection_that_the_server_dropped_is_replaced(
    postgres_url: str,
) -> None:
    db = Database(postgres_url)
    try:
        with db.read_connection() as conn:
            backend = conn.execute(text("SELECT pg_backend_pid()")).scalar()
        with db.engine.connect() as admin:
            admin.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": backend})
            admin.commit()
        with pytest.raises(DBAPIError) as lost, db.read_connection() as conn:
            conn.execute(text("SELECT 1"))
        assert lost.value.connection_invalidated
        with db.read_connection() as conn:  # a fresh one
            assert conn.execute(text("SELECT pg_backend_pid()")).scalar() != backend
    finally:
        db.dispose()


def _terminate(url: str, backend: object) -> None:
    """End the server process of another connection, from a connection of its own."""
    other = Database(url)
    try:
        with other.engine.connect() as admin:
            admin.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": backend})
            admin.commit()
    finally:
        other.dispose()


def test_a_pooled_connection_the_server_ended_is_replaced_before_use(postgres_url: str) -> None:
    db = Database(postgres_url)
    try:
        with db.session() as session:
            backend = session.execute(text("SELECT pg_backend_pid()")).scalar()
        _terminate(postgres_url, backend)
        with db.read_session() as session:  # the pool's ping finds it gone: a new one, no error
            assert session.execute(text("SELECT pg_backend_pid()")).scalar() != backend
    finally:
        db.dispose()


def test_a_read_session_refuses_a_change_and_writes_nothing(db: Database) -> None:
    with db.read_session() as session:
        session.add(Customer(email="reader@example.com", name="Reader", locale="en"))
        with pytest.raises(RuntimeError, match="read session"):
            session.flush()
    with db.read_session() as session:
        assert session.scalars(select(Customer)).all() == []


# --- direct reads --------------------------------------------------------------------------


def test_a_direct_read_converts_values_as_core_does(admin: TestClient, db: Database) -> None:
    key = licensed_key(admin)
    activate(admin, key, "m1")
    set_expiry(db, key, datetime(2031, 5, 6, 7, 8, 9, 123456, tzinfo=UTC))
    statement = _VALIDATION_LOOKUP.statement
    for machine in ("m1", None, "elsewhere"):
        params = {"key": key, "machine_id": machine}
        with db.read_connection() as conn:
            direct = _VALIDATION_LOOKUP.first(conn, params)
            core = conn.execute(statement, params).first()
        on_loop = asyncio.run(db.read_first(_VALIDATION_LOOKUP, params))  # asyncio on PostgreSQL
        assert core is not None
        for row in (direct, on_loop):
            assert row == tuple(core)  # dates, enums and the product's JSON alike
            assert row is not None
            assert [type(value) for value in row] == [type(value) for value in core]
    with db.read_connection() as conn:
        assert _VALIDATION_LOOKUP.first(conn, {"key": "NOPE", "machine_id": None}) is None
        assert "FROM licenses" in _VALIDATION_LOOKUP.sql(conn.dialect)


def test_a_direct_read_raises_as_sqlalchemy_does_and_its_connection_is_replaced(
    db: Database,
) -> None:
    missing = DirectRead(select(literal_column("1")).select_from(table("no_such_table")))
    with pytest.raises(DBAPIError) as raised, db.read_connection() as broken:
        missing.first(broken, {})
    assert not raised.value.connection_invalidated  # an error in the query, not a lost server
    assert broken.closed
    with db.read_connection() as fresh:
        assert fresh is not broken
        assert fresh.execute(text("SELECT 2")).scalar() == 2
