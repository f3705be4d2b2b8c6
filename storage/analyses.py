"""Posts' analyses and operators' review decisions: the review queue, the latest analysis of a post."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Select, exists, func, or_, select
from sqlalchemy.orm import Session

from . import search
from .models import FakeMark, Incident, IncidentPost, Post, PostAnalysis, ReviewDecision, Source
from .search import Query


def latest_analyses(s: Session, post_ids: Sequence[int]) -> dict[int, PostAnalysis]:
    out: dict[int, PostAnalysis] = {}
    if not post_ids:
        return out
    for a in s.scalars(select(PostAnalysis).where(PostAnalysis.post_id.in_(list(post_ids))).order_by(PostAnalysis.id)):
        out[a.post_id] = a  # later rows win
    return out


# --------------------------------------------------------------------------- review queue
#
# The one definition of «на проверку оператору»: a post whose latest analysis is unsure, not deleted,
# with no review decision in force (an undone decision does not count). The web queue, its count and
# the processing report (``cur process``) all use :func:`review_queue_count` / the statement below.


@dataclass(frozen=True)
class QueueFilter:
    """Filters of the review queue (all optional); times are UTC, ``until`` exclusive."""

    sector: str | None = None
    municipality: str | None = None
    urgency: str | None = None
    source: str | None = None
    since: datetime | None = None
    until: datetime | None = None
    possible_fake: bool = False
    #: words of the post text (``pipeline.search.parse``), run on the full-text index (``storage.search``)
    search: Query | None = None
    post_ids: Sequence[int] | None = None
    #: posts of one region only (a ``storage.regions.RegionFilter``)
    region: Any = None


def _latest_analysis_ids(post_ids: Sequence[int] | None = None) -> Select:
    """Ids of the posts' latest analyses (of ``post_ids`` only, when given: the subquery then reads their rows
    instead of grouping the whole table)."""
    q = select(func.max(PostAnalysis.id))
    if post_ids is not None:
        q = q.where(PostAnalysis.post_id.in_(list(post_ids)))
    return q.group_by(PostAnalysis.post_id)


def decision_in_force() -> Any:
    """An EXISTS clause: the post has a review decision that was not undone."""
    return exists().where(ReviewDecision.post_id == Post.id, ReviewDecision.reverted_at.is_(None))


def review_queue_stmt(columns: Sequence[Any], f: QueueFilter | None = None) -> Select:
    stmt = (
        select(*columns)
        .select_from(Post)
        .join(PostAnalysis, PostAnalysis.post_id == Post.id)
        .where(PostAnalysis.id.in_(_latest_analysis_ids(f.post_ids if f is not None else None)))
        .where(PostAnalysis.unsure.is_(True))
        .where(Post.is_deleted.is_(False))
        .where(~decision_in_force())
    )
    if f is None:
        return stmt
    if f.sector:
        stmt = stmt.where(PostAnalysis.sector == f.sector)
    if f.municipality:
        stmt = stmt.where(PostAnalysis.municipality == f.municipality)
    if f.urgency:
        stmt = stmt.where(PostAnalysis.urgency == f.urgency) if f.urgency == "high" else stmt.where(or_(PostAnalysis.urgency.is_(None), PostAnalysis.urgency != "high"))
    if f.source:
        stmt = stmt.where(Post.source_key == f.source)
    if f.since is not None:
        stmt = stmt.where(Post.published_at >= f.since)
    if f.until is not None:
        stmt = stmt.where(Post.published_at < f.until)
    if f.possible_fake:  # a mark of the fakes registry not dismissed, or the post's incident marked
        stmt = stmt.where(or_(
            exists().where(FakeMark.post_id == Post.id, or_(FakeMark.decision.is_(None), FakeMark.decision != "dismissed")),
            exists().where(IncidentPost.post_id == Post.id, IncidentPost.incident_id == Incident.id, Incident.is_possible_fake.is_(True)),
        ))
    if f.post_ids is not None:
        stmt = stmt.where(Post.id.in_(list(f.post_ids)))
    if f.region is not None:
        stmt = stmt.where(f.region.posts)
    return stmt


def _queue(s: Session, columns: Sequence[Any], f: QueueFilter | None) -> Select:
    stmt = review_queue_stmt(columns, f)
    if f is not None and f.search is not None and not f.search.empty:
        stmt = stmt.where(Post.id.in_(search.post_filter(s, f.search)))
    return stmt


@dataclass(frozen=True)
class QueueEntry:
    """What the review queue is ordered by, without the post text (the whole queue is read at once)."""

    post_id: int
    published_at: datetime
    urgency: str | None
    relevant: bool
    unsure: bool
    confidence: float
    relevance_confidence: float


def review_queue_entries(s: Session, f: QueueFilter | None = None) -> list[QueueEntry]:
    """Every post waiting for an operator (see the section comment), filtered by ``f``."""
    cols = (Post.id, Post.published_at, PostAnalysis.urgency, PostAnalysis.relevant, PostAnalysis.unsure, PostAnalysis.confidence, PostAnalysis.relevance_confidence)
    return [
        QueueEntry(pid, pub, urg, bool(rel), bool(uns), float(conf or 0.0), float(rconf or 0.0))
        for pid, pub, urg, rel, uns, conf, rconf in s.execute(_queue(s, cols, f).order_by(Post.id))
    ]


def review_queue_count(s: Session, f: QueueFilter | None = None) -> int:
    """How many posts wait for an operator: the queue's count and «на проверку оператору» of ``cur process``."""
    return s.scalar(_queue(s, (func.count(Post.id),), f)) or 0


def review_rows(s: Session, post_ids: Sequence[int]) -> dict[int, tuple[Post, PostAnalysis, Incident | None]]:
    """Posts of the queue with their latest analysis and incident, by post id."""
    ids = list(post_ids)
    if not ids:
        return {}
    rows = {p.id: (p, a) for p, a in s.execute(review_queue_stmt((Post, PostAnalysis)).where(Post.id.in_(ids)))}
    by_post: dict[int, Incident] = {}
    for post_id, inc in s.execute(
        select(IncidentPost.post_id, Incident).join(Incident, Incident.id == IncidentPost.incident_id).where(IncidentPost.post_id.in_(ids))
    ):
        by_post[post_id] = inc
    return {pid: (p, a, by_post.get(pid)) for pid, (p, a) in rows.items()}


def review_sources(s: Session, region: Any = None) -> list[tuple[str, str, str | None]]:
    """(platform, source key, source title) of the posts now waiting in the queue (of one region's posts with
    ``region``, a ``storage.regions.RegionFilter``), for the filter."""
    stmt = review_queue_stmt((Post.platform, Post.source_key, Source.title), QueueFilter(region=region) if region is not None else None)
    stmt = stmt.outerjoin(Source, Source.id == Post.source_id)
    seen: dict[str, tuple[str, str, str | None]] = {}
    for platform, key, title in s.execute(stmt.distinct()):
        if key not in seen or (title and not seen[key][2]):
            seen[key] = (platform, key, title)
    return sorted(seen.values(), key=lambda r: (r[2] or r[1]).lower())


def add_analysis(s: Session, **fields: Any) -> PostAnalysis:
    a = PostAnalysis(**fields)
    s.add(a)
    s.flush()
    return a


def review_decisions(s: Session, limit: int = 50) -> list[ReviewDecision]:
    return list(s.scalars(select(ReviewDecision).order_by(ReviewDecision.at.desc(), ReviewDecision.id.desc()).limit(limit)))


def review_decision(s: Session, decision_id: int) -> ReviewDecision | None:
    return s.get(ReviewDecision, decision_id)


def decision_in_force_for(s: Session, post_id: int) -> ReviewDecision | None:
    """The post's latest review decision that was not undone."""
    return s.scalar(
        select(ReviewDecision).where(ReviewDecision.post_id == post_id, ReviewDecision.reverted_at.is_(None)).order_by(ReviewDecision.id.desc()).limit(1)
    )


def last_decision_of(s: Session, reviewer: str) -> ReviewDecision | None:
    """The reviewer's latest decision still in force (what «отменить» undoes)."""
    return s.scalar(
        select(ReviewDecision).where(ReviewDecision.reviewer == reviewer, ReviewDecision.reverted_at.is_(None)).order_by(ReviewDecision.id.desc()).limit(1)
    )


def post_with_analysis(s: Session, post_id: int) -> tuple[Post, PostAnalysis | None] | None:
    p = s.get(Post, post_id)
    if p is None:
        return None
    return p, latest_analyses(s, [post_id]).get(post_id)
