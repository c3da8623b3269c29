"""Risk events: a rule's hit on a purchase or a license, open until the seller clears it."""

from __future__ import annotations

import enum
from datetime import datetime
from typing import Any

from sqlalchemy import Enum, ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from shipkey.clock import utcnow
from shipkey.db.types import Base, JSONDict, UTCDateTime
from shipkey.ids import new_id


class RiskKind(enum.StrEnum):
    DOWNLOAD_SHARING = "DOWNLOAD_SHARING"
    """One purchase's links fetched from too many networks in 24 h."""
    KEY_SHARING = "KEY_SHARING"
    """One license validated from too many networks in 24 h."""
    ACTIVATION_CHURN = "ACTIVATION_CHURN"
    """One license activated and deactivated too often in 30 days."""
    REPEAT_REFUNDER = "REPEAT_REFUNDER"
    """A buyer with several refunds or disputes bought again."""
    SIGN_IN_SHARING = "SIGN_IN_SHARING"
    """One buyer signed in to the purchase portal from too many networks in 24 h."""
    FRAUD_WARNING = "FRAUD_WARNING"
    """Stripe's early fraud warning for the purchase's payment."""


class RiskStatus(enum.StrEnum):
    OPEN = "OPEN"
    CLEARED = "CLEARED"


class RiskEvent(Base):
    """One hit. ``open_key`` is ``<kind>:<subject>`` while OPEN and NULL once cleared: a unique
    column, so a (kind, subject) has at most one open event however often the rule hits again.

    ``action`` records what the hit did, so clearing undoes exactly that:
    ``{"licenses": [ids the risk suspended], "held": bool}``.
    """

    __tablename__ = "risk_events"
    __table_args__ = (Index("ix_risk_events_created_at_id", "created_at", "id"),)

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=lambda: new_id("rsk"))
    kind: Mapped[RiskKind] = mapped_column(Enum(RiskKind, native_enum=False, length=32))
    subject: Mapped[str] = mapped_column(String(64))
    open_key: Mapped[str | None] = mapped_column(String(100), unique=True, nullable=True)
    status: Mapped[RiskStatus] = mapped_column(
        Enum(RiskStatus, native_enum=False, length=16), default=RiskStatus.OPEN
    )
    purchase_id: Mapped[str | None] = mapped_column(
        ForeignKey("purchases.id"), nullable=True, index=True
    )
    license_id: Mapped[str | None] = mapped_column(
        ForeignKey("licenses.id"), nullable=True, index=True
    )
    details: Mapped[dict[str, Any]] = mapped_column(JSONDict)
    action: Mapped[dict[str, Any]] = mapped_column(JSONDict)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    cleared_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
