"""Audit log entries and the chain's head.

Each entry's ``hash`` is SHA-256 over the previous entry's hash and the canonical JSON of the
entry itself (:func:`shipkey.audit.chain.entry_hash`), so changing, removing or reordering an
entry breaks every link after it. ``seq`` numbers the entries 1, 2, 3, … without gaps.

``audit_chain_head`` is one row (id 1): the last ``seq`` and ``hash``. Appending locks it
(``SELECT … FOR UPDATE`` on PostgreSQL; SQLite has one writer at a time), so two admin actions
at once never both chain onto the same entry.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from shipkey.db.types import Base, JSONDict, UTCDateTime

GENESIS = "0" * 64
"""The "previous hash" of the first entry."""
HEAD_ID = 1


class AuditEntry(Base):
    __tablename__ = "audit_log"
    __table_args__ = (
        Index("ix_audit_log_at_id", "at", "id"),
        Index("ix_audit_log_actor_at", "actor", "at"),
        Index("ix_audit_log_action_at", "action", "at"),
        Index("ix_audit_log_target_at", "target", "at"),
    )

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    seq: Mapped[int] = mapped_column(Integer, unique=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime)
    actor: Mapped[str] = mapped_column(String(320))
    action: Mapped[str] = mapped_column(String(100))
    target: Mapped[str | None] = mapped_column(String(255), nullable=True)
    ip_address: Mapped[str | None] = mapped_column(String(64), nullable=True)
    details: Mapped[dict[str, Any]] = mapped_column(JSONDict)
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64), unique=True)


class AuditHead(Base):
    __tablename__ = "audit_chain_head"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    seq: Mapped[int] = mapped_column(Integer)
    hash: Mapped[str] = mapped_column(String(64))
