"""SQL used by the web application: accounts, tokens, audit, scoped incident reads, dashboards.

Every read of incidents goes through :class:`Scope`: a specialist's scope is
bound to their authority and the filter is applied here, in one place, so no
handler can forget it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Select, exists, func, or_, select
from sqlalchemy.orm import Session

from .models import (
    ApiToken,
    Assignment,
    AuditEntry,
    Authority,
    Incident,
    IncidentEvent,
    IncidentPost,
    ModelVersion,
    Post,
    PostAnalysis,
    Response,
    ReviewDecision,
    User,
)
from .incidents import authority_by_code  # noqa: F401  (one definition, re-exported)

# --------------------------------------------------------------------------- scope


class NotFound(LookupError):
    """The object does not exist."""


class OutOfScope(PermissionError):
    """The object exists but belongs to another authority."""


@dataclass(frozen=True)
class Scope:
    """Which incidents a reader may see: all of them, or one authority's only."""

    restricted: bool = False
    authority_id: int | None = None

    @classmethod
    def everything(cls) -> Scope:
        return cls(False, None)

    @classmethod
    def authority(cls, authority_id: int | None) -> Scope:
        """An authority's scope; with no authority it matches nothing."""
        return cls(True, authority_id)

    def allows(self, incident: Incident) -> bool:
        return not self.restricted or (self.authority_id is not None and incident.authority_id == self.authority_id)

    def apply(self, stmt: Select) -> Select:
        if not self.restricted:
            return stmt
        if self.authority_id is None:
            return stmt.where(False)  # type: ignore[arg-type]
        return stmt.where(Incident.authority_id == self.authority_id)


def scoped_incident(s: Session, scope: Scope, incident_id: int) -> Incident:
    """The incident, or NotFound / OutOfScope."""
    inc = s.get(Incident, incident_id)
    if inc is None:
        raise NotFound(incident_id)
    if not scope.allows(inc):
        raise OutOfScope(incident_id)
    return inc


OPEN_STATES = ("new", "routed", "acknowledged", "answered", "reopened")


def list_incidents(
    s: Session,
    scope: Scope,
    *,
    state: str | None = None,
    sector: str | None = None,
    authority_id: int | None = None,
    open_only: bool = False,
    since: datetime | None = None,
    limit: int = 500,
) -> list[Incident]:
    stmt = scope.apply(select(Incident)).where(Incident.merged_into_id.is_(None))
    if state:
        stmt = stmt.where(Incident.state == state)
    if open_only:
        stmt = stmt.where(Incident.state.in_(OPEN_STATES))
    if sector:
        stmt = stmt.where(Incident.sector == sector)
    if authority_id is not None:
        stmt = stmt.where(Incident.authority_id == authority_id)
    if since is not None:
        stmt = stmt.where(Incident.created_at >= since)
    # nearest deadline first, then newest
    due = func.coalesce(Incident.first_reply_due, Incident.interim_due, Incident.final_due)
    stmt = stmt.order_by(due.is_(None), due, Incident.id.desc()).limit(limit)
    return list(s.scalars(stmt))


def incident_posts(s: Session, incident_id: int) -> list[tuple[Post, PostAnalysis | None]]:
    posts = list(
        s.scalars(
            select(Post).join(IncidentPost, IncidentPost.post_id == Post.id).where(IncidentPost.incident_id == incident_id).order_by(Post.published_at)
        )
    )
    latest = latest_analyses(s, [p.id for p in posts])
    return [(p, latest.get(p.id)) for p in posts]


def latest_analyses(s: Session, post_ids: Sequence[int]) -> dict[int, PostAnalysis]:
    out: dict[int, PostAnalysis] = {}
    if not post_ids:
        return out
    for a in s.scalars(select(PostAnalysis).where(PostAnalysis.post_id.in_(list(post_ids))).order_by(PostAnalysis.id)):
        out[a.post_id] = a  # later rows win
    return out


def incident_events(s: Session, incident_id: int) -> list[IncidentEvent]:
    return list(s.scalars(select(IncidentEvent).where(IncidentEvent.incident_id == incident_id).order_by(IncidentEvent.at, IncidentEvent.id)))


def incident_responses(s: Session, incident_id: int) -> list[Response]:
    return list(s.scalars(select(Response).where(Response.incident_id == incident_id).order_by(Response.at, Response.id)))


def incident_assignments(s: Session, incident_id: int) -> list[Assignment]:
    return list(s.scalars(select(Assignment).where(Assignment.incident_id == incident_id).order_by(Assignment.assigned_at, Assignment.id)))


def incident_of_post(s: Session, post_id: int) -> Incident | None:
    return s.scalar(select(Incident).join(IncidentPost, IncidentPost.incident_id == Incident.id).where(IncidentPost.post_id == post_id))


# --------------------------------------------------------------------------- review queue


def _latest_analysis_ids() -> Select:
    return select(func.max(PostAnalysis.id)).group_by(PostAnalysis.post_id)


def review_queue(s: Session, limit: int = 300) -> list[tuple[Post, PostAnalysis, Incident | None]]:
    """Flagged posts (latest analysis says problem or unsure) that nobody has reviewed yet."""
    reviewed = exists().where(ReviewDecision.post_id == Post.id)
    stmt = (
        select(Post, PostAnalysis)
        .join(PostAnalysis, PostAnalysis.post_id == Post.id)
        .where(PostAnalysis.id.in_(_latest_analysis_ids()))
        .where(or_(PostAnalysis.relevant.is_(True), PostAnalysis.unsure.is_(True)))
        .where(Post.is_deleted.is_(False))
        .where(~reviewed)
        .order_by(PostAnalysis.id)
        .limit(limit)
    )
    rows = [(r[0], r[1]) for r in s.execute(stmt)]
    by_post: dict[int, Incident] = {}
    ids = [p.id for p, _ in rows]
    if ids:
        for post_id, inc in s.execute(
            select(IncidentPost.post_id, Incident).join(Incident, Incident.id == IncidentPost.incident_id).where(IncidentPost.post_id.in_(ids))
        ):
            by_post[post_id] = inc
    return [(p, a, by_post.get(p.id)) for p, a in rows]


def add_analysis(s: Session, **fields: Any) -> PostAnalysis:
    a = PostAnalysis(**fields)
    s.add(a)
    s.flush()
    return a


def review_decisions(s: Session, limit: int = 50) -> list[ReviewDecision]:
    return list(s.scalars(select(ReviewDecision).order_by(ReviewDecision.at.desc(), ReviewDecision.id.desc()).limit(limit)))


def post_by_key(s: Session, platform: str, source_key: str, external_id: str) -> Post | None:
    return s.scalar(select(Post).where(Post.platform == platform, Post.source_key == source_key, Post.external_id == external_id))


def post_with_analysis(s: Session, post_id: int) -> tuple[Post, PostAnalysis | None] | None:
    p = s.get(Post, post_id)
    if p is None:
        return None
    return p, latest_analyses(s, [post_id]).get(post_id)


# --------------------------------------------------------------------------- dashboards


def incident_counts(s: Session, column: str, since: datetime | None = None) -> list[tuple[str | None, int]]:
    col = {"sector": Incident.sector, "category": Incident.category, "municipality": Incident.municipality, "state": Incident.state}[column]
    stmt = select(col, func.count()).where(Incident.merged_into_id.is_(None))
    if since is not None:
        stmt = stmt.where(Incident.created_at >= since)
    stmt = stmt.group_by(col).order_by(func.count().desc())
    return [(k, int(n)) for k, n in s.execute(stmt)]


def sector_category_counts(s: Session, since: datetime | None = None) -> list[tuple[str | None, str | None, int]]:
    stmt = select(Incident.sector, Incident.category, func.count()).where(Incident.merged_into_id.is_(None))
    if since is not None:
        stmt = stmt.where(Incident.created_at >= since)
    stmt = stmt.group_by(Incident.sector, Incident.category).order_by(func.count().desc())
    return [(a, b, int(n)) for a, b, n in s.execute(stmt)]


def municipality_sector_counts(s: Session, since: datetime | None = None) -> list[tuple[str | None, str | None, int]]:
    stmt = select(Incident.municipality, Incident.sector, func.count()).where(Incident.merged_into_id.is_(None))
    if since is not None:
        stmt = stmt.where(Incident.created_at >= since)
    stmt = stmt.group_by(Incident.municipality, Incident.sector)
    return [(m, sec, int(n)) for m, sec, n in s.execute(stmt)]


def problem_post_counts_by_source(s: Session, since: datetime | None = None) -> list[tuple[str, str, int]]:
    """Posts that belong to incidents, by platform and source key."""
    stmt = select(Post.platform, Post.source_key, func.count()).join(IncidentPost, IncidentPost.post_id == Post.id)
    if since is not None:
        stmt = stmt.where(Post.published_at >= since)
    stmt = stmt.group_by(Post.platform, Post.source_key).order_by(func.count().desc())
    return [(p, k, int(n)) for p, k, n in s.execute(stmt)]


def incident_created_times(s: Session, since: datetime | None = None) -> list[datetime]:
    stmt = select(Incident.created_at).where(Incident.merged_into_id.is_(None))
    if since is not None:
        stmt = stmt.where(Incident.created_at >= since)
    return list(s.scalars(stmt))


# --------------------------------------------------------------------------- authorities, users, tokens


def authorities(s: Session, region: str) -> list[Authority]:
    return list(s.scalars(select(Authority).where(Authority.region == region).order_by(Authority.name)))


def authority_names(s: Session, ids: Sequence[int | None]) -> dict[int, Authority]:
    wanted = [i for i in set(ids) if i is not None]
    if not wanted:
        return {}
    return {a.id: a for a in s.scalars(select(Authority).where(Authority.id.in_(wanted)))}


def busiest_authority(s: Session, region: str) -> str | None:
    """Code of the authority with the most open incidents in the region."""
    row = s.execute(
        select(Authority.code, func.count(Incident.id))
        .join(Incident, Incident.authority_id == Authority.id)
        .where(Authority.region == region, Incident.state.in_(OPEN_STATES))
        .group_by(Authority.code)
        .order_by(func.count(Incident.id).desc(), Authority.code)
        .limit(1)
    ).first()
    return row[0] if row else None


def user_by_login(s: Session, login: str) -> User | None:
    return s.scalar(select(User).where(User.login == login))


def user_by_id(s: Session, user_id: int) -> User | None:
    return s.get(User, user_id)


def add_user(s: Session, login: str, password_hash: str, role: str, authority_id: int | None, full_name: str | None = None) -> User:
    u = User(login=login, password_hash=password_hash, role=role, authority_id=authority_id, full_name=full_name)
    s.add(u)
    s.flush()
    return u


def list_users(s: Session) -> list[User]:
    return list(s.scalars(select(User).order_by(User.login)))


def set_password(s: Session, user: User, password_hash: str) -> None:
    user.password_hash = password_hash
    s.flush()


def add_api_token(s: Session, authority_id: int, token_hash: str, label: str | None, now: datetime) -> ApiToken:
    t = ApiToken(authority_id=authority_id, token_hash=token_hash, label=label, created_at=now)
    s.add(t)
    s.flush()
    return t


def authority_for_token(s: Session, token_hash: str) -> Authority | None:
    return s.scalar(
        select(Authority).join(ApiToken, ApiToken.authority_id == Authority.id).where(ApiToken.token_hash == token_hash, ApiToken.revoked_at.is_(None))
    )


# --------------------------------------------------------------------------- audit


def audit(s: Session, actor: str, action: str, target: str | None, data: dict[str, Any] | None, at: datetime) -> None:
    s.add(AuditEntry(actor=actor, action=action, target=target, data=data or {}, at=at))
    s.flush()


def count_audit(s: Session, action: str, target: str, since: datetime, ip: str | None = None) -> int:
    stmt = select(AuditEntry.data).where(AuditEntry.action == action, AuditEntry.target == target, AuditEntry.at >= since)
    rows = list(s.scalars(stmt))
    if ip is None:
        return len(rows)
    return sum(1 for d in rows if (d or {}).get("ip") == ip)


def recent_audit(s: Session, limit: int = 200) -> list[AuditEntry]:
    return list(s.scalars(select(AuditEntry).order_by(AuditEntry.at.desc(), AuditEntry.id.desc()).limit(limit)))


# --------------------------------------------------------------------------- models


def model_versions(s: Session) -> list[ModelVersion]:
    return list(s.scalars(select(ModelVersion).order_by(ModelVersion.created_at.desc(), ModelVersion.id.desc())))


def model_version(s: Session, version: str) -> ModelVersion | None:
    return s.scalar(select(ModelVersion).where(ModelVersion.version == version))
