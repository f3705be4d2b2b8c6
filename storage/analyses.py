"""Posts' analyses and operators' review decisions: the review queue, the latest analysis of a post."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Select, exists, func, or_, select
from sqlalchemy.orm import Session

from .models import Incident, IncidentPost, Post, PostAnalysis, ReviewDecision


def latest_analyses(s: Session, post_ids: Sequence[int]) -> dict[int, PostAnalysis]:
    out: dict[int, PostAnalysis] = {}
    if not post_ids:
        return out
    for a in s.scalars(select(PostAnalysis).where(PostAnalysis.post_id.in_(list(post_ids))).order_by(PostAnalysis.id)):
        out[a.post_id] = a  # later rows win
    return out


# --------------------------------------------------------------------------- review queue


def _latest_analysis_ids() -> Select:
    return select(func.max(PostAnalysis.id)).group_by(PostAnalysis.post_id)


def _review_queue_stmt(columns: Sequence[Any]) -> Select:
    reviewed = exists().where(ReviewDecision.post_id == Post.id)
    return (
        select(*columns)
        .join(PostAnalysis, PostAnalysis.post_id == Post.id)
        .where(PostAnalysis.id.in_(_latest_analysis_ids()))
        .where(or_(PostAnalysis.relevant.is_(True), PostAnalysis.unsure.is_(True)))
        .where(Post.is_deleted.is_(False))
        .where(~reviewed)
    )


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


def review_queue_entries(s: Session) -> list[QueueEntry]:
    """Every flagged post (latest analysis says problem or unsure) that nobody has reviewed yet."""
    cols = (Post.id, Post.published_at, PostAnalysis.urgency, PostAnalysis.relevant, PostAnalysis.unsure, PostAnalysis.confidence, PostAnalysis.relevance_confidence)
    return [
        QueueEntry(pid, pub, urg, bool(rel), bool(uns), float(conf or 0.0), float(rconf or 0.0))
        for pid, pub, urg, rel, uns, conf, rconf in s.execute(_review_queue_stmt(cols).order_by(Post.id))
    ]


def review_rows(s: Session, post_ids: Sequence[int]) -> dict[int, tuple[Post, PostAnalysis, Incident | None]]:
    """Posts with their latest analysis and incident, by post id."""
    ids = list(post_ids)
    if not ids:
        return {}
    rows = {p.id: (p, a) for p, a in s.execute(_review_queue_stmt((Post, PostAnalysis)).where(Post.id.in_(ids)))}
    by_post: dict[int, Incident] = {}
    for post_id, inc in s.execute(
        select(IncidentPost.post_id, Incident).join(Incident, Incident.id == IncidentPost.incident_id).where(IncidentPost.post_id.in_(ids))
    ):
        by_post[post_id] = inc
    return {pid: (p, a, by_post.get(pid)) for pid, (p, a) in rows.items()}


def add_analysis(s: Session, **fields: Any) -> PostAnalysis:
    a = PostAnalysis(**fields)
    s.add(a)
    s.flush()
    return a


def review_decisions(s: Session, limit: int = 50) -> list[ReviewDecision]:
    return list(s.scalars(select(ReviewDecision).order_by(ReviewDecision.at.desc(), ReviewDecision.id.desc()).limit(limit)))


def post_with_analysis(s: Session, post_id: int) -> tuple[Post, PostAnalysis | None] | None:
    p = s.get(Post, post_id)
    if p is None:
        return None
    return p, latest_analyses(s, [post_id]).get(post_id)
