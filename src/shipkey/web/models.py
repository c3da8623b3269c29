"""Signed-in sessions, kept on the server so that signing out (or revoking the admin token a
seller signed in with) ends them at once. Only the SHA-256 of a session's id is stored; the raw
id travels in the signed cookie only."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import String
from sqlalchemy.orm import Mapped, mapped_column

from shipkey.clock import utcnow
from shipkey.db.types import Base, UTCDateTime


class WebSignIn(Base):
    """One sign-in of a browser: a buyer (``kind`` BUYER, ``name`` their address) or the seller
    (ADMIN, the admin token's name; ``admin_token_id`` when signed in with a stored token)."""

    __tablename__ = "web_sessions"

    id_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    kind: Mapped[str] = mapped_column(String(8))
    name: Mapped[str] = mapped_column(String(320))
    admin_token_id: Mapped[str | None] = mapped_column(String(32), nullable=True, index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
