"""Sources and their crawl cursors."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from .models import CrawlCursor, Post, PostAnalysis, Source
from .types import utcnow


def get_or_create_source(
    session: Session,
    platform: str,
    kind: str,
    key: str,
    url: str | None = None,
    title: str | None = None,
    options: dict[str, Any] | None = None,
    interval_minutes: int | None = None,
) -> tuple[Source, bool]:
    """Return the source with this (platform, kind, key), creating it if new."""
    src = find_source(session, platform, kind, key)
    if src is not None:
        return src, False
    src = Source(platform=platform, kind=kind, key=key, url=url, title=title, options=options or {})
    if interval_minutes is not None:
        src.interval_minutes = interval_minutes
    session.add(src)
    session.flush()
    return src, True


def find_source(session: Session, platform: str, kind: str, key: str) -> Source | None:
    return session.scalar(select(Source).where(Source.platform == platform, Source.kind == kind, Source.key == key))


def find_source_by_url(session: Session, url: str) -> Source | None:
    return session.scalar(select(Source).where(Source.url == url))


def list_sources(session: Session, enabled_only: bool = False, regions: Any = None) -> list[Source]:
    """Sources in id order; with ``regions`` (``storage.regions.RegionFilter`` items), of those regions only."""
    q = select(Source).order_by(Source.id)
    if enabled_only:
        q = q.where(Source.enabled.is_(True))
    if regions is not None:
        q = q.where(or_(*(r.sources for r in regions)))
    return list(session.scalars(q))


def remove_source(session: Session, source: Source) -> None:
    """Delete a source and its cursor; its posts stay (their source_id is cleared)."""
    session.delete(source)
    session.flush()


def get_cursor(session: Session, source_id: int) -> dict[str, Any] | None:
    cur = session.get(CrawlCursor, source_id)
    return dict(cur.state) if cur is not None else None


def set_cursor(session: Session, source_id: int, state: dict[str, Any]) -> None:
    """Save the cursor; call it in the transaction that stores the posts it covers."""
    cur = session.get(CrawlCursor, source_id)
    if cur is None:
        session.add(CrawlCursor(source_id=source_id, state=dict(state), updated_at=utcnow()))
    else:
        cur.state = dict(state)
        cur.updated_at = utcnow()
    session.flush()


def record_success(session: Session, source: Source, new_posts: int, at: datetime | None = None) -> None:
    source.last_success_at = at or utcnow()
    source.posts_collected = (source.posts_collected or 0) + new_posts
    source.failing_reason = None
    source.retry_after = None


def record_failure(
    session: Session,
    source: Source,
    message: str,
    failing_reason: str | None = None,
    retry_after: datetime | None = None,
    at: datetime | None = None,
) -> None:
    source.last_error_at = at or utcnow()
    source.last_error = message
    if failing_reason is not None:
        source.failing_reason = failing_reason
    source.retry_after = retry_after


def source_titles(session: Session) -> dict[tuple[str, str], str]:
    """(platform, key) → title of every source that has one (Telegram's two collectors share "telegram")."""
    out: dict[tuple[str, str], str] = {}
    for platform, key, title in session.execute(select(Source.platform, Source.key, Source.title).where(Source.title.is_not(None))):
        if title:
            out[("telegram" if platform == "tgweb" else platform, key)] = title
    return out


# --------------------------------------------------------------------------- default municipalities


def source_municipalities(session: Session) -> tuple[dict[int, str], dict[str, str]]:
    """The default municipalities of sources: by source id, and by source key and URL (posts imported from a
    file carry only a ``source_key``)."""
    by_id: dict[int, str] = {}
    by_key: dict[str, str] = {}
    for sid, key, url, code in session.execute(
        select(Source.id, Source.key, Source.url, Source.municipality).where(Source.municipality.is_not(None))
    ):
        if code is None:
            continue
        by_id[sid] = code
        by_key.setdefault(key, code)
        if url:
            by_key.setdefault(url, code)
    return by_id, by_key


def set_source_municipality(source: Source, code: str | None) -> None:
    source.municipality = code


def municipality_counts(session: Session) -> list[tuple[int | None, str, str, int]]:
    """``(source id, source key, municipality, posts)``: how many posts of each source the latest analyses place
    in each municipality (posts with no municipality are not counted)."""
    latest = select(func.max(PostAnalysis.id)).group_by(PostAnalysis.post_id)
    stmt = (
        select(Post.source_id, Post.source_key, PostAnalysis.municipality, func.count())
        .join(PostAnalysis, PostAnalysis.post_id == Post.id)
        .where(PostAnalysis.id.in_(latest), PostAnalysis.municipality.is_not(None))
        .group_by(Post.source_id, Post.source_key, PostAnalysis.municipality)
    )
    return [(sid, key, str(code), int(n)) for sid, key, code, n in session.execute(stmt)]


def source_post_counts(session: Session) -> list[tuple[int | None, str, int]]:
    """``(source id, source key, posts with an analysis)``."""
    stmt = (
        select(Post.source_id, Post.source_key, func.count(func.distinct(Post.id)))
        .join(PostAnalysis, PostAnalysis.post_id == Post.id)
        .group_by(Post.source_id, Post.source_key)
    )
    return [(sid, key, int(n)) for sid, key, n in session.execute(stmt)]
