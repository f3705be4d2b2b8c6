"""SQL side of the classifier's model registry and its training data from reviews.

Functions take a SQLAlchemy ``Session`` and return plain data; callers (the
``cur`` model commands) own the transaction.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from .models import ModelVersion, Post, PostAnalysis, ReviewDecision
from .types import utcnow

#: Review decisions that state what the post is (merge/fake say nothing about the label).
LABEL_DECISIONS = ("confirm", "correct", "not_problem")


def record_model_version(
    session: Session,
    *,
    version: str,
    path: str,
    checksum: str,
    data_fingerprint: str,
    metrics: dict[str, Any],
    created_at: datetime | None = None,
    notes: str | None = None,
) -> None:
    """Insert or update the row of a model version (idempotent by ``version``)."""
    row = session.scalar(select(ModelVersion).where(ModelVersion.version == version))
    if row is None:
        row = ModelVersion(version=version, created_at=created_at or utcnow())
        session.add(row)
    row.path, row.checksum, row.data_fingerprint, row.metrics = path, checksum, data_fingerprint, metrics
    if notes is not None:
        row.notes = notes
    session.flush()


def set_active_model(session: Session, version: str) -> None:
    """Mark ``version`` active and every other version inactive."""
    row = session.scalar(select(ModelVersion).where(ModelVersion.version == version))
    if row is None:
        raise LookupError(f"model version {version!r} is not recorded in the database")
    session.execute(update(ModelVersion).where(ModelVersion.version != version).values(is_active=False))
    row.is_active = True
    row.activated_at = utcnow()
    session.flush()


def list_model_versions(session: Session) -> list[dict[str, Any]]:
    rows = session.scalars(select(ModelVersion).order_by(ModelVersion.created_at, ModelVersion.version))
    return [
        {
            "version": r.version,
            "path": r.path,
            "checksum": r.checksum,
            "data_fingerprint": r.data_fingerprint,
            "metrics": r.metrics,
            "created_at": r.created_at,
            "is_active": r.is_active,
            "activated_at": r.activated_at,
        }
        for r in rows
    ]


def reviewed_examples(session: Session) -> list[dict[str, Any]]:
    """The latest labelling decision of each reviewed post, with the post text."""
    latest = (
        select(ReviewDecision.post_id, func.max(ReviewDecision.id).label("id"))
        .where(ReviewDecision.decision.in_(LABEL_DECISIONS))
        .group_by(ReviewDecision.post_id)
        .subquery()
    )
    q = (
        select(ReviewDecision, Post.text)
        .join(latest, latest.c.id == ReviewDecision.id)
        .join(Post, Post.id == ReviewDecision.post_id)
        .where(Post.is_deleted.is_(False))
        .order_by(ReviewDecision.id)
    )
    out = []
    for d, text in session.execute(q):
        relevant = bool(d.relevant) and d.decision != "not_problem"
        out.append(
            {
                "post_id": d.post_id,
                "text": text,
                "relevant": relevant,
                "sector": d.sector if relevant else None,
                "category": d.category if relevant else None,
                "urgency": d.urgency if relevant else None,
                "decision": d.decision,
                "reviewer": d.reviewer,
                "at": d.at,
            }
        )
    return out


def least_sure_analyses(session: Session, limit: int = 50) -> list[dict[str, Any]]:
    """Unreviewed analyses flagged unsure, least confident first (the review queue order)."""
    reviewed = select(ReviewDecision.post_id)
    q = (
        select(PostAnalysis)
        .where(PostAnalysis.unsure.is_(True), PostAnalysis.post_id.not_in(reviewed))
        .order_by(PostAnalysis.confidence, PostAnalysis.id)
        .limit(limit)
    )
    return [
        {
            "post_id": a.post_id,
            "model_version": a.model_version,
            "relevant": a.relevant,
            "sector": a.sector,
            "category": a.category,
            "confidence": a.confidence,
        }
        for a in session.scalars(q)
    ]


def model_versions(s: Session) -> list[ModelVersion]:
    return list(s.scalars(select(ModelVersion).order_by(ModelVersion.created_at.desc(), ModelVersion.id.desc())))


def model_version(s: Session, version: str) -> ModelVersion | None:
    return s.scalar(select(ModelVersion).where(ModelVersion.version == version))
