"""Download links: one link is one download (resumable until it expires)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from shipkey.clock import utcnow
from shipkey.db.types import Base, UTCDateTime
from shipkey.ids import new_id
from shipkey.orders.models import Purchase


class Download(Base):
    """The seed's Download: a link handed to the buyer, and what happened to it.

    Only the SHA-256 of the token is kept; the raw token is shown once, in the link.
    """

    __tablename__ = "downloads"
    __table_args__ = (
        Index("ix_downloads_purchase_created", "purchase_id", "created_at"),
        Index("ix_downloads_downloaded_at", "downloaded_at"),
    )

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=lambda: new_id("dl"))
    purchase_id: Mapped[str] = mapped_column(ForeignKey("purchases.id"))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    downloaded_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    ip_address: Mapped[str | None] = mapped_column(String(64), nullable=True)
    user_agent: Mapped[str | None] = mapped_column(String(512), nullable=True)
    resumed_bytes: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")
    """Bytes sent as resumes of the used link; at most the file's size in all."""

    purchase: Mapped[Purchase] = relationship(lazy="joined", innerjoin=True)


class StampedCopy(Base):
    """A buyer's personal copy of a stamped product's file (PDF or EPUB), kept in storage.

    One per purchase; ``source_sha256`` is the product file it was made from, so a new upload
    makes it stale and it is built again.
    """

    __tablename__ = "stamped_copies"

    purchase_id: Mapped[str] = mapped_column(ForeignKey("purchases.id"), primary_key=True)
    source_sha256: Mapped[str] = mapped_column(String(64))
    key: Mapped[str] = mapped_column(String(512))
    size: Mapped[int] = mapped_column(BigInteger)
    sha256: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
