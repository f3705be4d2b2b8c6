"""SQL used by the web application: accounts, tokens, audit, scoped incident reads, dashboards.

Every read of incidents goes through :class:`Scope`: a specialist's scope is
bound to their authority and the filter is applied here, in one place, so no
handler can forget it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Generic, TypeVar

from sqlalchemy import Integer, Select, and_, case, exists, false, func, or_, select, type_coerce, update
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
from .types import UTCDateTime

T = TypeVar("T")

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


# --------------------------------------------------------------------------- keyset pagination


class BadCursor(ValueError):
    """A page position that does not fit the list it is used on."""


@dataclass(frozen=True)
class Key:
    """One sort key of a keyset-paginated list: a SQL expression that is never NULL, and its direction."""

    expr: Any
    desc: bool = False
    kind: type = int


def nulls_last(expr: Any, desc: bool = False, kind: type = datetime) -> list[Key]:
    """A nullable expression as two keys: a 0/1 "is NULL" flag (NULLs last), then the value."""
    flag = case((expr.is_(None), 1), else_=0)
    return [Key(type_coerce(flag, Integer), False, int), Key(expr, desc, kind)]


@dataclass
class Page(Generic[T]):
    """One page of a list: its items, the sort keys of its first and last item, and whether more lie either side."""

    items: list[T]
    first_key: tuple | None = None
    last_key: tuple | None = None
    has_prev: bool = False
    has_next: bool = False
    total: int | None = None


def _check_key(keys: Sequence[Key], values: Sequence[Any]) -> tuple:
    if not isinstance(values, (list, tuple)) or len(values) != len(keys):
        raise BadCursor("position has the wrong number of sort keys")
    out = []
    for k, v in zip(keys, values):
        if v is None:
            out.append(None)
        elif k.kind is int and isinstance(v, int) and not isinstance(v, bool):
            out.append(v)
        elif k.kind is datetime and isinstance(v, datetime) and v.tzinfo is not None:
            out.append(v)
        elif k.kind is str and isinstance(v, str):
            out.append(v)
        else:
            raise BadCursor(f"sort key of type {type(v).__name__} where {k.kind.__name__} is expected")
    return tuple(out)


def _beyond(keys: Sequence[Key], values: Sequence[Any], backwards: bool) -> Any:
    """Rows strictly after ``values`` in the list order (before, if ``backwards``)."""
    clauses = []
    for i, (k, v) in enumerate(zip(keys, values)):
        if v is None:
            continue  # NULLs are grouped behind their flag key: nothing lies after one inside the group
        prefix = [kj.expr.is_(None) if vj is None else kj.expr == vj for kj, vj in zip(keys[:i], values[:i])]
        step = k.expr < v if k.desc != backwards else k.expr > v
        clauses.append(and_(*prefix, step))
    return or_(*clauses) if clauses else false()


def keyset_page(
    s: Session,
    stmt: Select,
    keys: Sequence[Key],
    *,
    limit: int,
    after: Sequence[Any] | None = None,
    before: Sequence[Any] | None = None,
    count: bool = True,
) -> Page[Any]:
    """One page of ``stmt`` (selecting one entity) ordered by ``keys``, after or before a position.

    The position is the key tuple of a row, not an offset, so rows inserted or
    removed elsewhere in the list never shift a page: nothing is shown twice or
    skipped. ``keys`` must end with a unique column (the id).
    """
    total = int(s.scalar(select(func.count()).select_from(stmt.order_by(None).subquery()))) if count else None
    backwards = before is not None
    edge = _check_key(keys, before if backwards else after) if (after is not None or before is not None) else None
    q = stmt.add_columns(*[k.expr for k in keys])
    if edge is not None:
        q = q.where(_beyond(keys, edge, backwards))
    q = q.order_by(*[(k.expr.asc() if k.desc == backwards else k.expr.desc()) for k in keys]).limit(limit + 1)
    rows = [(r[0], tuple(r[1:])) for r in s.execute(q)]
    more = len(rows) > limit
    rows = rows[:limit]
    if backwards:
        rows.reverse()
    items = [r[0] for r in rows]
    first_key = rows[0][1] if rows else None
    last_key = rows[-1][1] if rows else None
    if backwards:
        return Page(items, first_key, last_key, has_prev=more, has_next=True, total=total)
    return Page(items, first_key, last_key, has_prev=edge is not None, has_next=more, total=total)


# --------------------------------------------------------------------------- incident lists


def _due_sql() -> Any:
    """The deadline the incident list sorts by: the first one set of the three stages."""
    return type_coerce(func.coalesce(Incident.first_reply_due, Incident.interim_due, Incident.final_due), UTCDateTime)


def _next_due_sql() -> Any:
    """The earliest deadline of a stage not yet done (``web.formatting.next_due`` in SQL), NULL if none."""

    def pending(due: Any, done: Any) -> Any:
        return case((done.is_(None), due), else_=None)

    def least(a: Any, b: Any) -> Any:
        return case((a.is_(None), b), (b.is_(None), a), (a <= b, a), else_=b)

    first = pending(Incident.first_reply_due, Incident.first_reply_at)
    interim = pending(Incident.interim_due, Incident.interim_at)
    final = pending(Incident.final_due, Incident.final_at)
    return type_coerce(least(least(first, interim), final), UTCDateTime)


#: list order -> sort keys (each ends with the id, which makes the order total)
INCIDENT_ORDERS = {
    # nearest deadline first, then newest
    "deadline": lambda: [*nulls_last(_due_sql()), Key(Incident.id, desc=True)],
    # nearest deadline not yet met first (the inbox), then oldest
    "next_due": lambda: [*nulls_last(_next_due_sql()), Key(Incident.id)],
}


def _incident_query(
    scope: Scope,
    *,
    state: str | None = None,
    sector: str | None = None,
    authority_id: int | None = None,
    open_only: bool = False,
    routed_only: bool = False,
    since: datetime | None = None,
) -> Select:
    stmt = scope.apply(select(Incident)).where(Incident.merged_into_id.is_(None))
    if state:
        stmt = stmt.where(Incident.state == state)
    if open_only:
        stmt = stmt.where(Incident.state.in_(OPEN_STATES))
    if routed_only:
        stmt = stmt.where(Incident.authority_id.is_not(None))
    if sector:
        stmt = stmt.where(Incident.sector == sector)
    if authority_id is not None:
        stmt = stmt.where(Incident.authority_id == authority_id)
    if since is not None:
        stmt = stmt.where(Incident.created_at >= since)
    return stmt


def incident_page(
    s: Session,
    scope: Scope,
    *,
    limit: int,
    after: Sequence[Any] | None = None,
    before: Sequence[Any] | None = None,
    order: str = "deadline",
    **filters: Any,
) -> Page[Incident]:
    """One page of the scope's incidents (filters as in :func:`list_incidents`) with the total count."""
    return keyset_page(s, _incident_query(scope, **filters), INCIDENT_ORDERS[order](), limit=limit, after=after, before=before)


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


def post_by_key(s: Session, platform: str, source_key: str, external_id: str) -> Post | None:
    return s.scalar(select(Post).where(Post.platform == platform, Post.source_key == source_key, Post.external_id == external_id))


def post_with_analysis(s: Session, post_id: int) -> tuple[Post, PostAnalysis | None] | None:
    p = s.get(Post, post_id)
    if p is None:
        return None
    return p, latest_analyses(s, [post_id]).get(post_id)


# --------------------------------------------------------------------------- dashboards


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
    if scope is not None and scope.restricted:
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


def add_user(
    s: Session, login: str, password_hash: str, role: str, authority_id: int | None, full_name: str | None = None, *, must_change_password: bool = False
) -> User:
    u = User(login=login, password_hash=password_hash, role=role, authority_id=authority_id, full_name=full_name, must_change_password=must_change_password)
    s.add(u)
    s.flush()
    return u


def list_users(s: Session) -> list[User]:
    return list(s.scalars(select(User).order_by(User.login)))


USER_KEYS = [Key(User.login, kind=str), Key(User.id)]


def user_page(s: Session, *, limit: int, after: Sequence[Any] | None = None, before: Sequence[Any] | None = None) -> Page[User]:
    """Users by login, one page."""
    return keyset_page(s, select(User), USER_KEYS, limit=limit, after=after, before=before)


def user_for_update(s: Session, user_id: int) -> User | None:
    """The user, locked until the transaction ends (PostgreSQL; SQLite serialises writers anyway)."""
    return s.scalar(select(User).where(User.id == user_id).with_for_update())


def active_admin_ids(s: Session, admin_role: str) -> list[int]:
    """Ids of the active admins, locked to the end of the transaction.

    Two admins demoting each other at the same moment cannot both succeed: on
    PostgreSQL the rows are read FOR UPDATE; SQLite ignores FOR UPDATE and
    reads outside the write lock, so a no-op write takes the database's write
    lock first and the read after it sees the latest committed state.
    """
    admins = (User.role == admin_role) & User.is_active.is_(True)
    if s.get_bind().dialect.name == "sqlite":
        s.execute(update(User).where(admins).values(role=User.role))
    return list(s.scalars(select(User.id).where(admins).order_by(User.id).with_for_update()))


def record_login(s: Session, user: User, now: datetime) -> None:
    """A successful sign-in: the time goes to ``users.last_login_at`` (the users page reads it there)."""
    user.last_login_at = now
    s.flush()


def end_sessions(s: Session, user_id: int) -> None:
    """Invalidate every session cookie of the account (sign-out, password change): one atomic increment."""
    s.execute(update(User).where(User.id == user_id).values(session_generation=User.session_generation + 1))
    s.flush()


def set_password(s: Session, user: User, password_hash: str, *, must_change: bool = False) -> None:
    """A new password hash; ``must_change`` when an admin generated it (the user must set their own)."""
    user.password_hash = password_hash
    user.must_change_password = must_change
    s.flush()


def add_api_token(s: Session, authority_id: int, token_hash: str, label: str | None, now: datetime) -> ApiToken:
    t = ApiToken(authority_id=authority_id, token_hash=token_hash, label=label, created_at=now)
    s.add(t)
    s.flush()
    return t


@dataclass(frozen=True)
class TokenUse:
    """A valid (not revoked) token found by its hash: its authority, number and last recorded use."""

    authority: Authority
    token_id: int
    last_used_at: datetime | None


def token_for_api(s: Session, token_hash: str) -> TokenUse | None:
    """The active token with this hash and its authority, in one read (no write)."""
    row = s.execute(
        select(Authority, ApiToken.id, ApiToken.last_used_at)
        .join(ApiToken, ApiToken.authority_id == Authority.id)
        .where(ApiToken.token_hash == token_hash, ApiToken.revoked_at.is_(None))
    ).first()
    return TokenUse(row[0], row[1], row[2]) if row else None


def touch_api_token(s: Session, token_id: int, now: datetime, resolution: timedelta) -> bool:
    """Record a use of the token unless one was recorded less than ``resolution`` ago; True if written.

    A conditional UPDATE: requests racing each other in the same minute write once.
    """
    stale = or_(ApiToken.last_used_at.is_(None), ApiToken.last_used_at <= now - resolution)
    result = s.execute(update(ApiToken).where(ApiToken.id == token_id, stale).values(last_used_at=now))
    s.flush()
    return bool(result.rowcount)


def _region_tokens(region: str, authority_id: int | None = None, state: str | None = None, unused_since: datetime | None = None) -> Select:
    """Tokens of the region's authorities; ``state`` is ``active``, ``revoked`` or None (both).

    ``unused_since``: only tokens not used since then (never used, or last used before it).
    """
    stmt = select(ApiToken).join(Authority, Authority.id == ApiToken.authority_id).where(Authority.region == region)
    if authority_id is not None:
        stmt = stmt.where(ApiToken.authority_id == authority_id)
    if state == "active":
        stmt = stmt.where(ApiToken.revoked_at.is_(None))
    elif state == "revoked":
        stmt = stmt.where(ApiToken.revoked_at.is_not(None))
    if unused_since is not None:
        stmt = stmt.where(or_(ApiToken.last_used_at.is_(None), ApiToken.last_used_at < unused_since))
    return stmt


#: newest first
TOKEN_KEYS = [Key(ApiToken.created_at, desc=True, kind=datetime), Key(ApiToken.id, desc=True)]


def api_tokens(s: Session, region: str, authority_id: int | None = None, state: str | None = None, unused_since: datetime | None = None) -> list[ApiToken]:
    """The region's API tokens, newest first (rows only: the hash is never shown to anyone)."""
    stmt = _region_tokens(region, authority_id, state, unused_since).order_by(ApiToken.created_at.desc(), ApiToken.id.desc())
    return list(s.scalars(stmt))


def api_token_page(
    s: Session,
    region: str,
    *,
    limit: int,
    authority_id: int | None = None,
    state: str | None = None,
    unused_since: datetime | None = None,
    after: Sequence[Any] | None = None,
    before: Sequence[Any] | None = None,
) -> Page[ApiToken]:
    """One page of the region's API tokens, newest first."""
    return keyset_page(s, _region_tokens(region, authority_id, state, unused_since), TOKEN_KEYS, limit=limit, after=after, before=before)


def api_token(s: Session, region: str, token_id: int) -> ApiToken | None:
    """A token of one of the region's authorities, or None."""
    return s.scalar(_region_tokens(region).where(ApiToken.id == token_id))


def revoke_api_token(s: Session, token_id: int, now: datetime) -> bool:
    """Mark the token revoked unless it already is; True if this call revoked it.

    One conditional UPDATE, so two revocations at the same moment (on either
    backend) see exactly one success and the first revocation time is kept.
    """
    result = s.execute(update(ApiToken).where(ApiToken.id == token_id, ApiToken.revoked_at.is_(None)).values(revoked_at=now))
    s.flush()
    return bool(result.rowcount)


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


def audit_about(s: Session, login: str, limit: int = 30) -> list[AuditEntry]:
    """The latest entries about an account: done to it (``user:LOGIN``) or its sign-ins and failures."""
    stmt = select(AuditEntry).where(or_(AuditEntry.target == f"user:{login}", AuditEntry.target == login))
    return list(s.scalars(stmt.order_by(AuditEntry.at.desc(), AuditEntry.id.desc()).limit(limit)))


AUDIT_KEYS = [Key(AuditEntry.at, desc=True, kind=datetime), Key(AuditEntry.id, desc=True)]


def audit_page(s: Session, *, limit: int, after: Sequence[Any] | None = None, before: Sequence[Any] | None = None) -> Page[AuditEntry]:
    """The audit log, newest first, one page (no total: counting a long log is not cheap)."""
    return keyset_page(s, select(AuditEntry), AUDIT_KEYS, limit=limit, after=after, before=before, count=False)


# --------------------------------------------------------------------------- models


def model_versions(s: Session) -> list[ModelVersion]:
    return list(s.scalars(select(ModelVersion).order_by(ModelVersion.created_at.desc(), ModelVersion.id.desc())))


def model_version(s: Session, version: str) -> ModelVersion | None:
    return s.scalar(select(ModelVersion).where(ModelVersion.version == version))
