"""Counts for the dashboard: incidents by sector, category, municipality, state; problem posts by source."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Select, case, func, select
from sqlalchemy.orm import Session

from .models import Incident, IncidentPost, Post
from .reads import Scope


def _dash_scope(stmt: Select, scope: Scope | None) -> Select:
    """Dashboard counts follow the reader's scope like every incident list (a specialist: their authority)."""
    return stmt if scope is None else scope.apply(stmt)


def incident_counts(s: Session, column: str, since: datetime | None = None, scope: Scope | None = None) -> list[tuple[str | None, int]]:
    col = {"sector": Incident.sector, "category": Incident.category, "municipality": Incident.municipality, "state": Incident.state}[column]
    stmt = _dash_scope(select(col, func.count()).where(Incident.merged_into_id.is_(None)), scope)
    if since is not None:
        stmt = stmt.where(Incident.created_at >= since)
    stmt = stmt.group_by(col).order_by(func.count().desc())
    return [(k, int(n)) for k, n in s.execute(stmt)]


def sector_category_counts(s: Session, since: datetime | None = None, scope: Scope | None = None) -> list[tuple[str | None, str | None, int]]:
    stmt = _dash_scope(select(Incident.sector, Incident.category, func.count()).where(Incident.merged_into_id.is_(None)), scope)
    if since is not None:
        stmt = stmt.where(Incident.created_at >= since)
    stmt = stmt.group_by(Incident.sector, Incident.category).order_by(func.count().desc())
    return [(a, b, int(n)) for a, b, n in s.execute(stmt)]


def municipality_sector_counts(s: Session, since: datetime | None = None, scope: Scope | None = None) -> list[tuple[str | None, str | None, int]]:
    stmt = _dash_scope(select(Incident.municipality, Incident.sector, func.count()).where(Incident.merged_into_id.is_(None)), scope)
    if since is not None:
        stmt = stmt.where(Incident.created_at >= since)
    stmt = stmt.group_by(Incident.municipality, Incident.sector)
    return [(m, sec, int(n)) for m, sec, n in s.execute(stmt)]


def problem_post_counts_by_source(s: Session, since: datetime | None = None, scope: Scope | None = None) -> list[tuple[str, str, int]]:
    """Posts that belong to incidents, by platform and source key."""
    stmt = select(Post.platform, Post.source_key, func.count()).join(IncidentPost, IncidentPost.post_id == Post.id)
    if scope is not None and scope.narrowed:
        stmt = scope.apply(stmt.join(Incident, Incident.id == IncidentPost.incident_id))
    if since is not None:
        stmt = stmt.where(Post.published_at >= since)
    stmt = stmt.group_by(Post.platform, Post.source_key).order_by(func.count().desc())
    return [(p, k, int(n)) for p, k, n in s.execute(stmt)]


def incident_created_times(s: Session, since: datetime | None = None, scope: Scope | None = None) -> list[datetime]:
    stmt = _dash_scope(select(Incident.created_at).where(Incident.merged_into_id.is_(None)), scope)
    if since is not None:
        stmt = stmt.where(Incident.created_at >= since)
    return list(s.scalars(stmt))


def municipality_overdue_counts(
    s: Session, now: datetime, since: datetime | None = None, scope: Scope | None = None
) -> list[tuple[str | None, int, int]]:
    """(municipality, incidents, open incidents with a stage deadline passed and not met) — for the map."""
    from .events import OPEN_STATES
    from .reads import _next_due_sql

    overdue = case((Incident.state.in_(OPEN_STATES) & (_next_due_sql() < now), 1), else_=0)
    stmt = _dash_scope(select(Incident.municipality, func.count(), func.sum(overdue)).where(Incident.merged_into_id.is_(None)), scope)
    if since is not None:
        stmt = stmt.where(Incident.created_at >= since)
    stmt = stmt.group_by(Incident.municipality)
    return [(m, int(n), int(o or 0)) for m, n, o in s.execute(stmt)]


def sector_counts_between(s: Session, start: datetime, end: datetime, scope: Scope | None = None) -> dict[str | None, int]:
    """Incidents created in [start, end) by sector (week-over-week trends)."""
    stmt = _dash_scope(select(Incident.sector, func.count()).where(Incident.merged_into_id.is_(None), Incident.created_at >= start, Incident.created_at < end), scope)
    return {k: int(n) for k, n in s.execute(stmt.group_by(Incident.sector))}


def region_counts(s: Session, now: datetime, since: datetime) -> dict[str, tuple[int, int, int]]:
    """Per region: (incidents created since ``since``, open incidents, open ones with a stage deadline passed and
    not met) — the across-regions summary of a federal operator."""
    from .events import OPEN_STATES
    from .reads import _next_due_sql

    is_open = Incident.state.in_(OPEN_STATES)
    stmt = (select(Incident.region, func.sum(case((Incident.created_at >= since, 1), else_=0)),
                   func.sum(case((is_open, 1), else_=0)), func.sum(case((is_open & (_next_due_sql() < now), 1), else_=0)))
            .where(Incident.merged_into_id.is_(None)).group_by(Incident.region))
    return {r: (int(a or 0), int(b or 0), int(c or 0)) for r, a, b, c in s.execute(stmt)}
