"""SQL of processing split into tasks (``pipeline.distributed``): which pending posts wait for analysis, which for grouping.

A pending post (``processed_at IS NULL``, not deleted) *is analysed* when it has
an analysis of its current text (``post_analyses.content_hash`` equal to the
post's); otherwise it waits for analysis. Analysed pending posts wait for
grouping, in id order, up to the *frontier*: the lowest id still waiting for
analysis.
"""

from __future__ import annotations

from typing import Any, Sequence

from sqlalchemy import exists, or_, select
from sqlalchemy.orm import Session

from .models import Post, PostAnalysis

_ANALYSED = exists().where(PostAnalysis.post_id == Post.id, PostAnalysis.content_hash == Post.content_hash)
_PENDING = (Post.processed_at.is_(None), Post.is_deleted.is_(False))


def _in(regions: Any) -> tuple[Any, ...]:
    """The condition "a post of one of ``regions``" (``storage.regions.RegionFilter`` items; None: no condition)."""
    if regions is None:
        return ()
    return (or_(*(r.posts for r in regions)),)


def unanalysed_ids(session: Session, after_id: int = 0, limit: int | None = None, regions: Any = None) -> list[int]:
    """Ids of pending posts without an analysis of their current text, in id order (of ``regions``, if given)."""
    q = select(Post.id).where(*_PENDING, Post.id > after_id, ~_ANALYSED, *_in(regions)).order_by(Post.id)
    if limit is not None:
        q = q.limit(limit)
    return list(session.scalars(q))


def unanalysed_rows(session: Session, first_id: int, last_id: int) -> list[tuple[int, str, str]]:
    """``(id, text, content_hash)`` of the pending, unanalysed posts with ids in ``[first_id, last_id]``."""
    q = select(Post.id, Post.text, Post.content_hash).where(*_PENDING, Post.id >= first_id, Post.id <= last_id, ~_ANALYSED).order_by(Post.id)
    return [(i, t or "", h) for i, t, h in session.execute(q)]


def frontier(session: Session, region: Any = None) -> int | None:
    """The lowest id of a pending post waiting for analysis (None: every pending post is analysed); with ``region``
    (a ``RegionFilter``), of that region's posts: regions are independent partitions."""
    return session.scalar(select(Post.id).where(*_PENDING, ~_ANALYSED, *_in(region and [region])).order_by(Post.id).limit(1))


def lock_posts(session: Session, ids: Sequence[int]) -> None:
    """Lock the posts' rows for this transaction (PostgreSQL; SQLite's writer lock covers it)."""
    if ids and session.get_bind().dialect.name == "postgresql":
        session.execute(select(Post.id).where(Post.id.in_(list(ids))).order_by(Post.id).with_for_update())


_SAME_TEXT = (PostAnalysis.post_id == Post.id) & (PostAnalysis.content_hash == Post.content_hash)
ANY = object()


def _of_sector(sector: Any):
    return PostAnalysis.sector.is_(None) if sector is None else PostAnalysis.sector == sector


def groupable(session: Session, after_id: int, below_id: int | None, limit: int, sector: Any = ANY,
              region: Any = None) -> list[tuple[int, PostAnalysis]]:
    """Analysed pending posts with ``after_id < id < below_id`` (of one ``sector``, None included, unless ``ANY``;
    of one ``region``, if given), in id order, each with its analysis of the current text (the latest one if
    several models looked at it)."""
    q = (select(Post.id, PostAnalysis).join(PostAnalysis, _SAME_TEXT).where(*_PENDING, Post.id > after_id, *_in(region and [region]))
         .order_by(Post.id, PostAnalysis.id))
    if below_id is not None:
        q = q.where(Post.id < below_id)
    if sector is not ANY:
        q = q.where(_of_sector(sector))
    out: dict[int, PostAnalysis] = {}
    raw = session.execute(q.limit(limit * 2)).all()
    for pid, a in raw:
        out[pid] = a  # the latest analysis wins
    if len(raw) == limit * 2 and len(out) > 1:
        out.pop(max(out))  # its later analyses may lie past the limit
    return sorted(out.items())[:limit]


def groupable_sectors(session: Session, below_id: int | None, region: Any = None) -> list[str | None]:
    """The sectors (None too) of analysed pending posts below ``below_id`` (of one ``region``, if given)."""
    q = select(PostAnalysis.sector).join(Post, _SAME_TEXT).where(*_PENDING, *_in(region and [region])).distinct()
    if below_id is not None:
        q = q.where(Post.id < below_id)
    return sorted(session.scalars(q), key=lambda x: x or "")


def count_waiting(session: Session) -> dict[str, Any]:
    """Pending posts waiting for analysis and for grouping."""
    from sqlalchemy import func

    total = session.scalar(select(func.count()).where(*_PENDING)) or 0
    unanalysed = session.scalar(select(func.count()).where(*_PENDING, ~_ANALYSED)) or 0
    return {"analysis": int(unanalysed), "grouping": int(total - unanalysed)}
