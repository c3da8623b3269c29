"""Appending to the audit log, reading it, and checking its chain.

An admin action is recorded in the transaction that makes the change: the boundary notes it
(:func:`shipkey.actor.ActorSource.note`, done centrally by the admin API's guard, the admin
pages' guard and the command line), and :func:`write_noted` — run by a ``before_commit``
listener on every session — appends the notes of the session's actor just before it commits.
A change that rolls back leaves no entry; an entry is never written for a change that did not
commit. :func:`record` appends at once, for entries written outside that path (a failed
sign-in).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import event, select, update
from sqlalchemy.orm import Session

from shipkey.actor import Actor, source_of
from shipkey.audit.chain import canonical, entry_hash
from shipkey.audit.models import GENESIS, HEAD_ID, AuditEntry, AuditHead
from shipkey.clock import utcnow
from shipkey.db import paging
from shipkey.db.writes import insert_ignore, insert_row
from shipkey.ids import new_id

SECRET_FIELDS = frozenset({"token", "password", "secret", "csrf_token", "licensefile"})
"""Fields never copied into an entry's details (a sign-in form's token, a CSRF token)."""
MAX_TEXT = 500
MAX_ITEMS = 50
MAX_DEPTH = 4


def clean(value: Any, depth: int = 0) -> Any:
    """``value`` fit for an entry's details: strings cut to 500 characters (without NUL, which
    PostgreSQL's JSON refuses), at most 50 items per list or object, 4 levels deep, secret
    fields left out."""
    if isinstance(value, str):
        return value.replace("\x00", "")[:MAX_TEXT]
    if value is None or isinstance(value, bool | int):
        return value
    if isinstance(value, float):
        return value if value == value and abs(value) != float("inf") else None
    if depth >= MAX_DEPTH:
        return None
    if isinstance(value, dict):
        return {
            str(key).replace("\x00", "")[:100]: clean(item, depth + 1)
            for key, item in list(value.items())[:MAX_ITEMS]
            if str(key).lower().replace("_", "").replace("-", "") not in _SECRET_KEYS
        }
    if isinstance(value, list | tuple):
        return [clean(item, depth + 1) for item in value[:MAX_ITEMS]]
    return str(value)[:MAX_TEXT]


_SECRET_KEYS = frozenset(name.replace("_", "") for name in SECRET_FIELDS)


def record(
    session: Session,
    actor: Actor,
    action: str,
    target: str | None = None,
    details: dict[str, Any] | None = None,
    now: datetime | None = None,
) -> AuditEntry:
    """Append one entry in the caller's transaction. The chain's head is locked until that
    transaction ends, so appends are serialised and the chain never forks."""
    head = _locked_head(session)
    at = now or utcnow()
    target = (target.replace("\x00", "")[:255] or None) if target else None
    seq = head.seq + 1
    entry_id = new_id("aud")
    body = clean(details or {})
    document = canonical(
        seq=seq,
        entry_id=entry_id,
        at=at,
        actor=actor.name[:320],
        action=action[:100],
        target=target,
        ip_address=actor.ip,
        details=body,
    )
    digest = entry_hash(head.hash, document)
    entry = insert_row(
        session,
        AuditEntry,
        {
            "id": entry_id,
            "seq": seq,
            "at": at,
            "actor": actor.name[:320],
            "action": action[:100],
            "target": target,
            "ip_address": actor.ip,
            "details": body,
            "prev_hash": head.hash,
            "hash": digest,
        },
    )
    session.execute(
        update(AuditHead).where(AuditHead.id == HEAD_ID).values(seq=seq, hash=digest),
        execution_options={"synchronize_session": False},
    )
    return entry


@dataclass(frozen=True)
class _Head:
    seq: int
    hash: str


def _locked_head(session: Session) -> _Head:
    """The chain's head, locked until the transaction ends (made on first use)."""
    insert_ignore(session, AuditHead, {"id": HEAD_ID, "seq": 0, "hash": GENESIS})
    row = session.execute(
        select(AuditHead.seq, AuditHead.hash).where(AuditHead.id == HEAD_ID).with_for_update()
    ).one()
    return _Head(row.seq, row.hash)


def write_noted(session: Session) -> int:
    """Append the actions noted for the session's actor (see the module's docstring)."""
    source = source_of(session)
    if source is None:
        return 0
    actor = source.actor
    if actor is None:
        return 0
    notes = source.take_notes()
    for noted in notes:
        record(session, actor, noted.action, noted.target, noted.details)
    return len(notes)


def install() -> None:
    """Write noted actions when any session commits (idempotent)."""
    if not event.contains(Session, "before_commit", write_noted):
        event.listen(Session, "before_commit", write_noted)


install()


# --- reading --------------------------------------------------------------------------------


def list_entries(
    session: Session,
    *,
    actor: str | None = None,
    action: str | None = None,
    target: str | None = None,
    limit: int = paging.DEFAULT_LIMIT,
    cursor: str | None = None,
) -> paging.Page[AuditEntry]:
    """Entries newest first (:mod:`shipkey.db.paging`), filtered by exact actor, action and
    target."""
    query = select(AuditEntry)
    if actor:
        query = query.where(AuditEntry.actor == actor)
    if action:
        query = query.where(AuditEntry.action == action)
    if target:
        query = query.where(AuditEntry.target == target)
    return paging.page(
        session, query, created_at=AuditEntry.at, row_id=AuditEntry.id, limit=limit, cursor=cursor
    )


# --- checking -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Verdict:
    entries: int
    broken_seq: int | None = None
    broken_id: str | None = None
    reason: str | None = None

    @property
    def ok(self) -> bool:
        return self.broken_seq is None


def _entries(session: Session, batch: int = 1000) -> Iterator[AuditEntry]:
    last = 0
    while True:
        rows = list(
            session.scalars(
                select(AuditEntry)
                .where(AuditEntry.seq > last)
                .order_by(AuditEntry.seq)
                .limit(batch)
            )
        )
        if not rows:
            return
        yield from rows
        last = rows[-1].seq
        session.expunge_all()


def verify(session: Session) -> Verdict:
    """Walk the chain from the first entry; the first link that does not hold, if any."""
    prev, expected, count = GENESIS, 1, 0
    for entry in _entries(session):
        count += 1
        if entry.seq != expected:
            return Verdict(count, expected, None, f"entry {expected} is missing")
        if entry.prev_hash != prev:
            return Verdict(count, entry.seq, entry.id, "it does not link to the entry before")
        document = canonical(
            seq=entry.seq,
            entry_id=entry.id,
            at=entry.at,
            actor=entry.actor,
            action=entry.action,
            target=entry.target,
            ip_address=entry.ip_address,
            details=entry.details,
        )
        if entry_hash(prev, document) != entry.hash:
            return Verdict(count, entry.seq, entry.id, "its content does not match its hash")
        prev, expected = entry.hash, expected + 1
    head = session.get(AuditHead, HEAD_ID)
    if head is not None and (head.seq != expected - 1 or head.hash != prev):
        return Verdict(count, expected, None, "entries after it were removed")
    return Verdict(count)
