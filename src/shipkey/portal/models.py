"""Sign-in links: single use, short-lived, kept as SHA-256 hashes."""

from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import Enum, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from shipkey.clock import utcnow
from shipkey.db.types import Base, UTCDateTime
from shipkey.ids import new_id


class LoginPurpose(enum.StrEnum):
    BUYER = "BUYER"
    ADMIN = "ADMIN"


class LoginToken(Base):
    """One e-mailed sign-in link. ``used_at`` is set by the one request that redeems it, with
    the address (as :func:`shipkey.http.net.client_ip` records it) and the user agent it came
    from: the evidence's sign-ins and the sign-in sharing rule (:mod:`shipkey.risk.rules`)."""

    __tablename__ = "login_tokens"
    __table_args__ = (Index("ix_login_tokens_expires_at", "expires_at"),)

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=lambda: new_id("lgn"))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    email: Mapped[str] = mapped_column(String(320), index=True)
    purpose: Mapped[LoginPurpose] = mapped_column(
        Enum(LoginPurpose, native_enum=False, length=16), default=LoginPurpose.BUYER
    )
    locale: Mapped[str | None] = mapped_column(String(8), nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    ip_address: Mapped[str | None] = mapped_column(String(64), nullable=True)
    user_agent: Mapped[str | None] = mapped_column(String(512), nullable=True)
