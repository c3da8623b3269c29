"""The server's record of signed-in sessions (:class:`~shipkey.web.models.WebSignIn`).

A sign-in writes one row whose key is the SHA-256 of a fresh 256-bit id; the raw id is put in
the signed cookie only. Every page that needs the visitor reads the rows of the cookie's ids
in one statement by primary key (:func:`find`); signing out deletes them, and revoking an admin
token deletes the sessions opened with it. Sessions past their end are deleted whenever someone
signs in (an indexed DELETE; sign-ins are rare next to page views).
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from shipkey.clock import utcnow
from shipkey.db.engine import Database
from shipkey.ids import hash_token
from shipkey.web.models import WebSignIn

BUYER = "BUYER"
ADMIN = "ADMIN"
LIFETIMES = {BUYER: timedelta(days=14), ADMIN: timedelta(hours=12)}
"""How long a sign-in lasts: a buyer's 14 days, the seller's 12 hours."""
MAX_ID_LENGTH = 100


@dataclass(frozen=True)
class Found:
    kind: str
    name: str


def start(
    session: Session,
    kind: str,
    name: str,
    admin_token_id: str | None = None,
    now: datetime | None = None,
) -> str:
    """A new signed-in session; its raw id (for the cookie). Sessions that are over are deleted
    on the way, in the caller's transaction."""
    now = now or utcnow()
    session.execute(
        delete(WebSignIn)
        .where(WebSignIn.expires_at <= now)
        .execution_options(synchronize_session=False)
    )
    raw = secrets.token_urlsafe(32)
    session.add(
        WebSignIn(
            id_hash=hash_token(raw),
            kind=kind,
            name=name,
            admin_token_id=admin_token_id,
            created_at=now,
            expires_at=now + LIFETIMES[kind],
        )
    )
    session.flush()
    return raw


def end(session: Session, raw_ids: list[str]) -> None:
    """Sign out: these sessions no longer sign anyone in, wherever their cookie is copied."""
    hashes = [hash_token(raw) for raw in raw_ids if 0 < len(raw) <= MAX_ID_LENGTH]
    if hashes:
        session.execute(
            delete(WebSignIn)
            .where(WebSignIn.id_hash.in_(hashes))
            .execution_options(synchronize_session=False)
        )


def end_for_admin_token(session: Session, token_id: str) -> None:
    """The sessions opened with an admin token end (it was revoked)."""
    session.execute(
        delete(WebSignIn)
        .where(WebSignIn.admin_token_id == token_id)
        .execution_options(synchronize_session=False)
    )


def find(db: Database, raw_ids: list[str], now: datetime | None = None) -> dict[str, Found]:
    """The live sessions among ``raw_ids`` (by raw id): one read by primary key.

    This takes the database, not a request's session: it runs for every page that needs the
    visitor, before (or without) the page's own unit of work, and is one statement on the
    thread's held connection (:meth:`~shipkey.db.engine.Database.read_connection`), without
    a transaction of its own.
    """
    wanted = {hash_token(raw): raw for raw in raw_ids if 0 < len(raw) <= MAX_ID_LENGTH}
    if not wanted:
        return {}
    now = now or utcnow()
    query = select(WebSignIn.id_hash, WebSignIn.kind, WebSignIn.name).where(
        WebSignIn.id_hash.in_(list(wanted)), WebSignIn.expires_at > now
    )
    with db.read_connection() as conn:
        rows = conn.execute(query).all()
    return {wanted[id_hash]: Found(kind, name) for id_hash, kind, name in rows}
