"""The registry of debunked claims, the possible-fake marks on posts, and the matcher's threshold (SQL only)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import case, func, select
from sqlalchemy.orm import Session

from .models import FakeClaim, FakeMark, FakeThreshold, IncidentEvent, IncidentPost, Post


def claims(s: Session, active_only: bool = True) -> list[FakeClaim]:
    q = select(FakeClaim).order_by(FakeClaim.id)
    if active_only:
        q = q.where(FakeClaim.is_active.is_(True))
    return list(s.scalars(q))


def claim(s: Session, claim_id: int) -> FakeClaim | None:
    return s.get(FakeClaim, claim_id)


def claim_by_hash(s: Session, claim_hash: str) -> FakeClaim | None:
    return s.scalar(select(FakeClaim).where(FakeClaim.claim_hash == claim_hash))


def add_claim(s: Session, **fields: Any) -> FakeClaim:
    c = FakeClaim(**fields)
    s.add(c)
    s.flush()
    return c


def latest_threshold(s: Session) -> FakeThreshold | None:
    return s.scalar(select(FakeThreshold).order_by(FakeThreshold.id.desc()).limit(1))


def add_threshold(s: Session, **fields: Any) -> FakeThreshold:
    t = FakeThreshold(**fields)
    s.add(t)
    s.flush()
    return t


def upsert_marks(s: Session, rows: Sequence[dict[str, Any]]) -> int:
    """Store marks (post_id, claim_id, scores …); a mark already there gets the new scores, keeps its decision."""
    if not rows:
        return 0
    keys = {(r["post_id"], r["claim_id"]) for r in rows}
    post_ids = sorted({k[0] for k in keys})
    stored = {(m.post_id, m.claim_id): m for m in s.scalars(select(FakeMark).where(FakeMark.post_id.in_(post_ids)))}
    new = 0
    for r in rows:
        m = stored.get((r["post_id"], r["claim_id"]))
        if m is None:
            m = FakeMark(**r)
            s.add(m)
            stored[(r["post_id"], r["claim_id"])] = m
            new += 1
        else:
            for k in ("score", "lemma_score", "vector_score", "threshold"):
                setattr(m, k, r[k])
    s.flush()
    return new


def mark(s: Session, mark_id: int) -> FakeMark | None:
    return s.get(FakeMark, mark_id)


def mark_of(s: Session, post_id: int, claim_id: int) -> FakeMark | None:
    return s.scalar(select(FakeMark).where(FakeMark.post_id == post_id, FakeMark.claim_id == claim_id))


def marks_of_posts(s: Session, post_ids: Sequence[int]) -> dict[int, list[tuple[FakeMark, FakeClaim]]]:
    """Every mark of these posts with its claim, best score first, by post id."""
    out: dict[int, list[tuple[FakeMark, FakeClaim]]] = {}
    if not post_ids:
        return out
    q = (select(FakeMark, FakeClaim).join(FakeClaim, FakeClaim.id == FakeMark.claim_id)
         .where(FakeMark.post_id.in_(list(post_ids))).order_by(FakeMark.post_id, FakeMark.score.desc()))
    for m, c in s.execute(q):
        out.setdefault(m.post_id, []).append((m, c))
    return out


def marks_of_incident(s: Session, incident_id: int) -> list[tuple[FakeMark, FakeClaim, Post]]:
    q = (select(FakeMark, FakeClaim, Post).join(FakeClaim, FakeClaim.id == FakeMark.claim_id)
         .join(Post, Post.id == FakeMark.post_id)
         .join(IncidentPost, IncidentPost.post_id == FakeMark.post_id)
         .where(IncidentPost.incident_id == incident_id).order_by(FakeMark.score.desc(), FakeMark.id))
    return [(m, c, p) for m, c, p in s.execute(q)]


def pending_marks(s: Session, limit: int = 20, region: Any = None) -> list[tuple[FakeMark, FakeClaim, Post]]:
    """Marks waiting for an operator's decision, best score first (of one region's posts with ``region``, a
    ``storage.regions.RegionFilter``)."""
    q = (select(FakeMark, FakeClaim, Post).join(FakeClaim, FakeClaim.id == FakeMark.claim_id)
         .join(Post, Post.id == FakeMark.post_id)
         .where(FakeMark.decision.is_(None)).order_by(FakeMark.score.desc(), FakeMark.id).limit(limit))
    if region is not None:
        q = q.where(region.posts)
    return [(m, c, p) for m, c, p in s.execute(q)]


def count_marks(s: Session) -> dict[str, int]:
    """Marks by decision: ``waiting``, ``confirmed``, ``dismissed``."""
    rows = s.execute(select(FakeMark.decision, func.count(FakeMark.id)).group_by(FakeMark.decision)).all()
    out = {"waiting": 0, "confirmed": 0, "dismissed": 0}
    for decision, n in rows:
        out[decision or "waiting"] = int(n)
    return out


def decided_marks(s: Session) -> list[tuple[float, str]]:
    """(score, decision) of every decided mark: what the threshold is tuned on."""
    return [(float(a), str(b)) for a, b in s.execute(select(FakeMark.score, FakeMark.decision).where(FakeMark.decision.is_not(None))).all()]


def claim_mark_counts(s: Session) -> dict[int, dict[str, int]]:
    rows = s.execute(select(FakeMark.claim_id, FakeMark.decision, func.count(FakeMark.id)).group_by(FakeMark.claim_id, FakeMark.decision)).all()
    out: dict[int, dict[str, int]] = {}
    for cid, decision, n in rows:
        out.setdefault(int(cid), {"waiting": 0, "confirmed": 0, "dismissed": 0})[decision or "waiting"] = int(n)
    return out


def set_decision(m: FakeMark, decision: str, actor: str, at: datetime) -> None:
    m.decision, m.decided_by, m.decided_at = decision, actor, at


def claims_between(s: Session, start: datetime, end: datetime) -> list[tuple[FakeClaim, int, int, int]]:
    """Claims with marks made in [start, end): (claim, marks, confirmed, dismissed), most confirmed first."""
    confirmed = func.sum(case((FakeMark.decision == "confirmed", 1), else_=0))
    dismissed = func.sum(case((FakeMark.decision == "dismissed", 1), else_=0))
    q = (select(FakeClaim, func.count(FakeMark.id), confirmed, dismissed).join(FakeMark, FakeMark.claim_id == FakeClaim.id)
         .where(FakeMark.marked_at >= start, FakeMark.marked_at < end)
         .group_by(FakeClaim.id).order_by(confirmed.desc(), func.count(FakeMark.id).desc(), FakeClaim.id))
    return [(c, int(n), int(cf or 0), int(dm or 0)) for c, n, cf, dm in s.execute(q)]


def claims_added_between(s: Session, start: datetime, end: datetime) -> int:
    return int(s.scalar(select(func.count(FakeClaim.id)).where(FakeClaim.created_at >= start, FakeClaim.created_at < end)) or 0)


def last_flag_data(s: Session, incident_id: int) -> dict[str, Any] | None:
    """``data`` of the incident's last ``marked_fake`` event (None: never flagged)."""
    row = s.scalar(select(IncidentEvent.data).where(IncidentEvent.incident_id == incident_id, IncidentEvent.kind == "marked_fake")
                   .order_by(IncidentEvent.at.desc(), IncidentEvent.id.desc()).limit(1))
    return None if row is None else dict(row)
