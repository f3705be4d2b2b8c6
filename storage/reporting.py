"""Read-only SQL behind notifications, ratings, reports and the incident export."""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime
from typing import Iterable, Iterator

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from .incidents import authority_by_code  # noqa: F401  (one definition, re-exported)
from .models import Authority, Incident, IncidentEvent, IncidentPost, Post, Response


def authorities_of_region(session: Session, region: str) -> dict[int, Authority]:
    return {a.id: a for a in session.scalars(select(Authority).where(Authority.region == region))}


def incidents_by_id(session: Session, ids: Iterable[int]) -> dict[int, Incident]:
    ids = list(set(ids))
    if not ids:
        return {}
    return {i.id: i for i in session.scalars(select(Incident).where(Incident.id.in_(ids)))}


def event_ids_after(session: Session, after_id: int, limit: int) -> list[int]:
    """Ids of the first ``limit`` events (any kind, any region) with ``id > after_id``, ascending.

    A primary-key range scan: cheap however long the log is.
    """
    q = select(IncidentEvent.id).where(IncidentEvent.id > after_id).order_by(IncidentEvent.id).limit(limit)
    return [int(i) for i in session.scalars(q)]


def event_ids_in_ranges(session: Session, ranges: Iterable[tuple[int, int]]) -> list[int]:
    """Ids of the events that exist in the inclusive id ranges ``(lo, hi)``, ascending.

    Short ranges are looked up as ``id IN (…)`` lists of at most 500 ids,
    long ones as ``BETWEEN`` range scans: primary-key lookups on both backends
    (a long ``OR`` of ranges makes SQLite scan the table).
    """
    ids: list[int] = []
    spans: list[tuple[int, int]] = []
    for lo, hi in ranges:
        if hi - lo < 64:
            ids.extend(range(lo, hi + 1))
        else:
            spans.append((lo, hi))
    found: list[int] = []
    for start in range(0, len(ids), 500):
        found += session.scalars(select(IncidentEvent.id).where(IncidentEvent.id.in_(ids[start : start + 500])))
    for lo, hi in spans:
        found += session.scalars(select(IncidentEvent.id).where(IncidentEvent.id.between(lo, hi)))
    return sorted({int(i) for i in found})


def events_by_ids(session: Session, region: str, kinds: Iterable[str], ids: Iterable[int]) -> list[IncidentEvent]:
    """The events among ``ids`` of the given kinds that belong to the region's incidents, in id order."""
    ids = sorted(set(ids))
    if not ids:
        return []
    q = (
        select(IncidentEvent)
        .join(Incident, Incident.id == IncidentEvent.incident_id)
        .where(IncidentEvent.id.in_(ids), Incident.region == region, IncidentEvent.kind.in_(sorted(kinds)))
        .order_by(IncidentEvent.id)
    )
    return list(session.scalars(q))


def events_of_incidents_opened(
    session: Session, region: str, opening_kinds: Iterable[str], start: datetime, end: datetime, until: datetime
) -> list[IncidentEvent]:
    """Every event up to ``until`` of the region's incidents that have an ``opening_kinds`` event in [start, end)."""
    opened = (
        select(IncidentEvent.incident_id)
        .join(Incident, Incident.id == IncidentEvent.incident_id)
        .where(Incident.region == region, IncidentEvent.kind.in_(sorted(opening_kinds)), IncidentEvent.at >= start, IncidentEvent.at < end)
    )
    return list(session.scalars(select(IncidentEvent).where(IncidentEvent.incident_id.in_(opened), IncidentEvent.at <= until)))


def count_events(session: Session, region: str, kind: str, start: datetime, end: datetime, authority_id: int | None = None) -> int:
    """Events of a kind in [start, end); with ``authority_id``: of incidents now routed to that authority only."""
    q = (
        select(func.count(IncidentEvent.id))
        .join(Incident, Incident.id == IncidentEvent.incident_id)
        .where(Incident.region == region, IncidentEvent.kind == kind, IncidentEvent.at >= start, IncidentEvent.at < end)
    )
    if authority_id is not None:
        q = q.where(Incident.authority_id == authority_id)
    return session.scalar(q) or 0


def count_incidents_opened(session: Session, region: str, start: datetime, end: datetime, authority_id: int | None = None) -> int:
    """Incidents *opened* in [start, end): by the publication of their first post (``first_seen_at``),
    else by creation. A month of imported history counts in the month it happened, not when processed."""
    opened = func.coalesce(Incident.first_seen_at, Incident.created_at)
    q = select(func.count(Incident.id)).where(Incident.region == region, opened >= start, opened < end)
    if authority_id is not None:
        q = q.where(Incident.authority_id == authority_id)
    return session.scalar(q) or 0


def incidents_with_posts(session: Session, region: str, batch: int = 500) -> Iterator[tuple[Incident, list[tuple[str, str, str]]]]:
    """The region's incidents in id order, each with its posts' ``(platform, source_key, external_id)``."""
    q = select(Incident).where(Incident.region == region).order_by(Incident.id)
    for part in session.scalars(q).partitions(batch):
        posts: dict[int, list[tuple[str, str, str]]] = defaultdict(list)
        rows = session.execute(
            select(IncidentPost.incident_id, Post.platform, Post.source_key, Post.external_id)
            .join(Post, Post.id == IncidentPost.post_id)
            .where(IncidentPost.incident_id.in_([i.id for i in part]))
            .order_by(Post.published_at, Post.id)
        )
        for inc_id, platform, source, ext in rows:
            posts[inc_id].append((platform, source, ext))
        for i in part:
            yield i, posts.get(i.id, [])


def post_links(session: Session, incident_id: int, limit: int = 5) -> tuple[list[str], int]:
    """URLs of the incident's earliest posts (those that have one) and the number of its posts."""
    base = select(Post.url).join(IncidentPost, IncidentPost.post_id == Post.id).where(IncidentPost.incident_id == incident_id)
    urls = [str(u) for u in session.scalars(base.where(Post.url.is_not(None)).order_by(Post.published_at, Post.id).limit(limit))]
    total = session.scalar(select(func.count()).select_from(IncidentPost).where(IncidentPost.incident_id == incident_id)) or 0
    return urls, total


def response_by_id(session: Session, response_id: int) -> Response | None:
    return session.get(Response, response_id) if response_id else None
