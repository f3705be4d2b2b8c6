"""Emerging-problem alerts and the counts they are computed from (``pipeline.alerts``)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import case, func, select
from sqlalchemy.orm import Session

from .models import Incident, IncidentPost, Post
from .models_alerts import Alert, AlertEvent

OPEN = "open"
CLOSED = "closed"

Cell = tuple[str | None, str | None, str | None]  # municipality, sector, category


def _problem_posts(region: str, since: datetime, until: datetime, *columns: Any):
    """Problem posts (in an incident) of the region published in ``[since, until]``; by default their cell."""
    return (
        select(*(columns or (Incident.municipality, Incident.sector, Incident.category)))
        .select_from(IncidentPost)
        .join(Incident, Incident.id == IncidentPost.incident_id)
        .join(Post, Post.id == IncidentPost.post_id)
        .where(Incident.region == region, Post.is_deleted.is_(False), Post.published_at >= since,
               Post.published_at <= until)
    )


def cell_counts(s: Session, region: str, baseline_from: datetime, window_from: datetime,
                until: datetime) -> list[tuple[Cell, int, int]]:
    """Per (municipality, sector, category) of the incidents: posts published in the window
    ``[window_from, until]`` and in the baseline ``[baseline_from, window_from)``."""
    in_window = func.sum(case((Post.published_at >= window_from, 1), else_=0))
    stmt = (
        _problem_posts(region, baseline_from, until)
        .add_columns(in_window, func.count())
        .group_by(Incident.municipality, Incident.sector, Incident.category)
    )
    return [((m, sec, cat), int(w or 0), int(n) - int(w or 0)) for m, sec, cat, w, n in s.execute(stmt)]


def _cell_filter(stmt, cell: Cell):
    m, sec, cat = cell
    return stmt.where(
        Incident.municipality == m if m is not None else Incident.municipality.is_(None),
        Incident.sector == sec if sec is not None else Incident.sector.is_(None),
        Incident.category == cat if cat is not None else Incident.category.is_(None),
    )


def cell_posts(s: Session, region: str, cell: Cell, since: datetime, until: datetime) -> list[tuple[int, int, datetime]]:
    """``(post id, incident id, published at)`` of the cell's problem posts in ``[since, until]``, oldest first."""
    stmt = _problem_posts(region, since, until, Post.id, IncidentPost.incident_id, Post.published_at).order_by(
        Post.published_at, Post.id
    )
    return [(pid, iid, at) for pid, iid, at in s.execute(_cell_filter(stmt, cell))]


def open_alerts(s: Session, region: str) -> list[Alert]:
    return list(s.scalars(select(Alert).where(Alert.region == region, Alert.state == OPEN).order_by(Alert.id)))


def add_alert(s: Session, **fields: Any) -> Alert:
    alert = Alert(**fields)
    s.add(alert)
    s.flush()
    return alert


def add_event(s: Session, alert: Alert, kind: str, at: datetime, data: dict[str, Any] | None = None) -> AlertEvent:
    event = AlertEvent(alert_id=alert.id, kind=kind, at=at, data=data or {})
    s.add(event)
    return event


def list_alerts(s: Session, region: str, *, state: str | None = None, opened_since: datetime | None = None,
                opened_before: datetime | None = None, limit: int | None = None) -> list[Alert]:
    """Alerts of the region, newest first."""
    stmt = select(Alert).where(Alert.region == region)
    if state is not None:
        stmt = stmt.where(Alert.state == state)
    if opened_since is not None:
        stmt = stmt.where(Alert.opened_at >= opened_since)
    if opened_before is not None:
        stmt = stmt.where(Alert.opened_at < opened_before)
    stmt = stmt.order_by(Alert.opened_at.desc(), Alert.id.desc())
    if limit is not None:
        stmt = stmt.limit(limit)
    return list(s.scalars(stmt))


def events_of(s: Session, alert_ids: Sequence[int]) -> list[AlertEvent]:
    if not alert_ids:
        return []
    return list(s.scalars(select(AlertEvent).where(AlertEvent.alert_id.in_(list(alert_ids)))
                          .order_by(AlertEvent.alert_id, AlertEvent.id)))
