"""Tables of emerging-problem alerts (``pipeline.alerts``); re-exported by ``storage.models``."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, Float, ForeignKey, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from .models import Base
from .types import utcnow

_Id = BigInteger().with_variant(Integer(), "sqlite")  # as storage.models.BigId


class Alert(Base):
    """An emerging problem: a spike of new problem posts in one municipality × sector × category
    (``pipeline.alerts``); open while the spike lasts, then closed. Its incidents and posts are in ``details``."""

    __tablename__ = "alerts"
    __table_args__ = (Index("ix_alerts_region_state", "region", "state"),)

    id: Mapped[int] = mapped_column(_Id, primary_key=True)
    region: Mapped[str] = mapped_column(String(64))
    municipality: Mapped[str | None] = mapped_column(String(64))
    sector: Mapped[str | None] = mapped_column(String(64))
    category: Mapped[str | None] = mapped_column(String(64))
    #: open | closed
    state: Mapped[str] = mapped_column(String(16), default="open")
    opened_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)
    closed_at: Mapped[datetime | None]
    #: New problem posts in the window at the peak, and what the baseline expected in a window.
    count: Mapped[int] = mapped_column(Integer, default=0)
    expected: Mapped[float] = mapped_column(Float, default=0.0)
    p_value: Mapped[float] = mapped_column(Float, default=1.0)
    #: ``incidents``, ``posts`` (ids), ``series`` ([[day, posts], ...] for the chart), the test's parameters.
    details: Mapped[dict[str, Any]] = mapped_column(default=dict)


class AlertEvent(Base):
    """Every state change of an alert: ``opened``, ``grown`` (new posts while open), ``closed``."""

    __tablename__ = "alert_events"

    id: Mapped[int] = mapped_column(_Id, primary_key=True)
    alert_id: Mapped[int] = mapped_column(ForeignKey("alerts.id", ondelete="CASCADE"), index=True)
    at: Mapped[datetime] = mapped_column(default=utcnow)
    kind: Mapped[str] = mapped_column(String(32))
    data: Mapped[dict[str, Any]] = mapped_column(default=dict)
