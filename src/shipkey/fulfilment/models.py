"""Access grants: what a COURSE, MEMBERSHIP or SUBSCRIPTION purchase gives, and until when."""

from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import Enum, ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from shipkey.clock import utcnow
from shipkey.db.types import Base, UTCDateTime
from shipkey.ids import new_id
from shipkey.orders.models import Purchase


class AccessKind(enum.StrEnum):
    COURSE = "COURSE"
    MEMBERSHIP = "MEMBERSHIP"
    SUBSCRIPTION = "SUBSCRIPTION"


class AccessGrant(Base):
    """Access to the seller's content for one purchase, behind ``/access/<token>``.

    Only the SHA-256 of the token is stored. The token itself is an HMAC of the grant id under
    the secret key, so the link can be written again (a resent delivery e-mail) without keeping
    it anywhere.
    """

    __tablename__ = "access_grants"

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=lambda: new_id("acc"))
    purchase_id: Mapped[str] = mapped_column(ForeignKey("purchases.id"), unique=True)
    kind: Mapped[AccessKind] = mapped_column(Enum(AccessKind, native_enum=False, length=16))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)

    purchase: Mapped[Purchase] = relationship(lazy="joined", innerjoin=True)

    def is_expired(self, now: datetime) -> bool:
        return self.expires_at is not None and self.expires_at <= now
