"""A release of a product and the files (artifacts) it ships for each platform."""

from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import BigInteger, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from shipkey.clock import utcnow
from shipkey.db.types import Base, UTCDateTime
from shipkey.ids import new_id


class Channel(enum.StrEnum):
    """How stable a release is; a channel includes the more stable ones."""

    STABLE = "stable"
    BETA = "beta"
    ALPHA = "alpha"


class Release(Base):
    """One version of a product on one channel. ``version`` is as the seller wrote it,
    ``normalized`` its PEP 440 form (unique per product, what versions are compared by)."""

    __tablename__ = "releases"
    __table_args__ = (UniqueConstraint("product_id", "normalized"),)

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=lambda: new_id("rel"))
    product_id: Mapped[str] = mapped_column(ForeignKey("products.id"), index=True)
    version: Mapped[str] = mapped_column(String(64))
    normalized: Mapped[str] = mapped_column(String(64))
    channel: Mapped[str] = mapped_column(String(16))
    """A :class:`Channel` value."""
    notes: Mapped[str] = mapped_column(Text, default="")
    published_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    yanked_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    yank_reason: Mapped[str | None] = mapped_column(String(500), nullable=True)

    artifacts: Mapped[list[Artifact]] = relationship(
        back_populates="release", order_by="Artifact.file_name", lazy="selectin"
    )

    @property
    def yanked(self) -> bool:
        return self.yanked_at is not None


class Artifact(Base):
    """A file of a release for one platform and architecture (``any`` for all), stored like
    product files and signed with the license-file signing key."""

    __tablename__ = "release_artifacts"
    __table_args__ = (UniqueConstraint("release_id", "file_name"),)

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=lambda: new_id("art"))
    release_id: Mapped[str] = mapped_column(ForeignKey("releases.id"), index=True)
    file_name: Mapped[str] = mapped_column(String(255))
    file_key: Mapped[str] = mapped_column(String(512), unique=True)
    mime_type: Mapped[str] = mapped_column(String(255))
    size: Mapped[int] = mapped_column(BigInteger)
    sha256: Mapped[str] = mapped_column(String(64))
    platform: Mapped[str] = mapped_column(String(32))
    arch: Mapped[str] = mapped_column(String(32))
    signature: Mapped[str] = mapped_column(String(128))
    kid: Mapped[str] = mapped_column(String(64))
    download_count: Mapped[int] = mapped_column(Integer, default=0)
    uploaded_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    release: Mapped[Release] = relationship(back_populates="artifacts")
