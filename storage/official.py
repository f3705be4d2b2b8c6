"""Queries of the official pages (``pipeline/official.py``): their sources, posts and comments."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime

from sqlalchemy import and_, or_, select
from sqlalchemy.orm import Session

from .models import Authority, Incident, IncidentPost, Post, PostAnalysis, Response, Source


def official_sources(session: Session) -> list[Source]:
    """Sources marked official (``options["official"]`` = an authority code), by id."""
    return [s for s in session.scalars(select(Source).order_by(Source.id)) if (s.options or {}).get("official")]


def source_keys_of(session: Session, source_ids: Sequence[int]) -> dict[int, set[tuple[str, str]]]:
    """``(platform, source_key)`` of the posts each source stored (a VK wall added by its screen
    name stores its posts under the owner id)."""
    out: dict[int, set[tuple[str, str]]] = {i: set() for i in source_ids}
    if not source_ids:
        return out
    rows = session.execute(select(Post.source_id, Post.platform, Post.source_key)
                           .where(Post.source_id.in_(list(source_ids))).distinct())
    for sid, platform, key in rows:
        if sid is not None:
            out[int(sid)].add((platform, key))
    return out


def _on(keys: Iterable[tuple[str, str]]):
    return or_(*[and_(Post.platform == p, Post.source_key == k) for p, k in keys])


def page_posts(session: Session, keys: Sequence[tuple[str, str]], start: datetime, end: datetime) -> list[Post]:
    """Top-level posts (not comments) on the pages, published in [start, end), not deleted."""
    if not keys:
        return []
    return list(session.scalars(select(Post).where(_on(keys), Post.parent_external_id.is_(None), Post.is_deleted.is_(False),
                                                   Post.published_at >= start, Post.published_at < end).order_by(Post.published_at)))


def page_comments(session: Session, keys: Sequence[tuple[str, str]], start: datetime, end: datetime) -> list[Post]:
    """Comments on the pages published in [start, end), not deleted, oldest first."""
    if not keys:
        return []
    return list(session.scalars(select(Post).where(_on(keys), Post.parent_external_id.is_not(None), Post.is_deleted.is_(False),
                                                   Post.published_at >= start, Post.published_at < end)
                                .order_by(Post.published_at, Post.id)))


def latest_analysis_of(session: Session, post_ids: Sequence[int]) -> dict[int, PostAnalysis]:
    out: dict[int, PostAnalysis] = {}
    for chunk in range(0, len(post_ids), 500):
        ids = list(post_ids[chunk:chunk + 500])
        for a in session.scalars(select(PostAnalysis).where(PostAnalysis.post_id.in_(ids)).order_by(PostAnalysis.id)):
            out[a.post_id] = a  # later rows win
    return out


def incident_of_posts(session: Session, post_ids: Sequence[int]) -> dict[int, int]:
    out: dict[int, int] = {}
    for chunk in range(0, len(post_ids), 500):
        ids = list(post_ids[chunk:chunk + 500])
        out.update({int(p): int(i) for p, i in session.execute(
            select(IncidentPost.post_id, IncidentPost.incident_id).where(IncidentPost.post_id.in_(ids)))})
    return out


def recorded_post_ids(session: Session, post_ids: Sequence[int]) -> set[int]:
    """Which of these posts are already recorded as an answer (a ``Response`` names them)."""
    if not post_ids:
        return set()
    return {int(p) for p in session.scalars(select(Response.post_id).where(Response.post_id.in_(list(post_ids)))) if p is not None}


def incident_by_id(session: Session, incident_id: int | None) -> Incident | None:
    return session.get(Incident, incident_id) if incident_id else None


def authority_code_of(session: Session, authority_id: int | None) -> str | None:
    a = session.get(Authority, authority_id) if authority_id else None
    return a.code if a else None
