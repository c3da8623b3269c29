"""What the seller's pages keep for themselves: the dashboard's settled days."""

from __future__ import annotations

from sqlalchemy import BigInteger, String
from sqlalchemy.orm import Mapped, mapped_column

from shipkey.db.types import Base


class DashboardDay(Base):
    """One settled day's number for the dashboard, counted once and kept.

    ``metric`` is ``sales`` (per ``currency``: sales and their ``amount`` in cents),
    ``deliveries`` or ``downloads`` (``currency`` empty), or ``purchases_before``: every
    purchase created before ``day``. A day is settled once it is two days old: what happened on
    it no longer changes, so the dashboard adds only today's and yesterday's rows, counted
    afresh, to what is kept here.
    """

    __tablename__ = "dashboard_days"

    day: Mapped[str] = mapped_column(String(10), primary_key=True)
    metric: Mapped[str] = mapped_column(String(32), primary_key=True)
    currency: Mapped[str] = mapped_column(String(3), primary_key=True)
    count: Mapped[int] = mapped_column(BigInteger)
    amount: Mapped[int] = mapped_column(BigInteger)
