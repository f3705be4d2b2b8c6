"""Scoped reads of incidents for the pages and the API: lists, one incident's posts and history.

Every read of incidents goes through :class:`Scope`: a specialist's scope is
bound to their authority and the filter is applied here, in one place, so no
handler can forget it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Select, case, func, select, type_coerce
from sqlalchemy.orm import Session

from .analyses import latest_analyses
from .events import OPEN_STATES
from .models import Assignment, Incident, IncidentPost, Post, PostAnalysis, Source
from .paging import Key, Page, keyset_page, nulls_last
from .search import Query as SearchQuery
from .search import incident_filter
from .types import UTCDateTime


class NotFound(LookupError):
    """The object does not exist."""


class OutOfScope(PermissionError):
    """The object exists but belongs to another authority."""


@dataclass(frozen=True)
class Scope:
    """Which incidents a reader may see: all of them, or one authority's only; with ``region``, of that region only."""

    restricted: bool = False
    authority_id: int | None = None
    region: str | None = None

    @property
    def narrowed(self) -> bool:
        """Not every incident: one authority's, or one region's."""
        return self.restricted or self.region is not None

    def in_region(self, region: str | None) -> Scope:
        """This scope within one region (None: as it is)."""
        return self if region is None else Scope(self.restricted, self.authority_id, region)

    @classmethod
    def everything(cls) -> Scope:
        return cls(False, None)

    @classmethod
    def authority(cls, authority_id: int | None) -> Scope:
        """An authority's scope; with no authority it matches nothing."""
        return cls(True, authority_id)

    def allows(self, incident: Incident) -> bool:
        if self.region is not None and incident.region != self.region:
            return False
        return not self.restricted or (self.authority_id is not None and incident.authority_id == self.authority_id)

    def apply(self, stmt: Select) -> Select:
        if self.region is not None:
            stmt = stmt.where(Incident.region == self.region)
        if not self.restricted:
            return stmt
        if self.authority_id is None:
            return stmt.where(False)  # type: ignore[arg-type]
        return stmt.where(Incident.authority_id == self.authority_id)


def visible_incidents(s: Session, scope: Scope, ids: Sequence[int]) -> set[int]:
    """The incidents among ``ids`` that ``scope`` may see."""
    if not ids:
        return set()
    if not scope.narrowed:
        return set(ids)
    return set(s.scalars(scope.apply(select(Incident.id).where(Incident.id.in_(list(ids))))))


def scoped_incident(s: Session, scope: Scope, incident_id: int) -> Incident:
    """The incident, or NotFound / OutOfScope."""
    inc = s.get(Incident, incident_id)
    if inc is None:
        raise NotFound(incident_id)
    if scope.region is not None and inc.region != scope.region:
        raise NotFound(incident_id)  # another region's: not even its existence is told
    if not scope.allows(inc):
        raise OutOfScope(incident_id)
    return inc


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


def _opened_sql() -> Any:
    """The opening time as a sort key (a copy of the column: the page query selects the keys beside the entity)."""
    return type_coerce(Incident.created_at, UTCDateTime).label("opened_at")


#: list order -> sort keys (each ends with the id, which makes the order total)
INCIDENT_ORDERS = {
    # nearest deadline first, then newest
    "deadline": lambda: [*nulls_last(_due_sql()), Key(Incident.id, desc=True)],
    # nearest deadline not yet met first (the inbox), then oldest
    "next_due": lambda: [*nulls_last(_next_due_sql()), Key(Incident.id)],
    # opened first / last (``sort=opened`` / ``sort=-opened`` of the lists)
    "opened": lambda: [Key(_opened_sql(), kind=datetime), Key(Incident.id)],
    "-opened": lambda: [Key(_opened_sql(), desc=True, kind=datetime), Key(Incident.id, desc=True)],
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
    updated_since: datetime | None = None,
    found: Select | None = None,
    municipality: str | None = None,
    category: str | None = None,
    urgency: str | None = None,
    source: str | None = None,
    opened_from: datetime | None = None,
    opened_before: datetime | None = None,
    overdue_at: datetime | None = None,
) -> Select:
    """The scope's incidents matching every filter given.

    ``found``: a SELECT of incident ids (the search, ``storage.search``); ``source``: a post of the
    incident comes from that source key; ``opened_from``/``opened_before``: created in
    [from, before); ``overdue_at``: open with a stage not done whose deadline is before that time.
    """
    stmt = scope.apply(select(Incident))
    if updated_since is not None:
        # syncing: every incident changed since then, merged ones too (so a client learns of the merge)
        stmt = stmt.where(Incident.updated_at >= updated_since)
    else:
        stmt = stmt.where(Incident.merged_into_id.is_(None))
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
    if found is not None:
        stmt = stmt.where(Incident.id.in_(found))
    if municipality:
        stmt = stmt.where(Incident.municipality == municipality)
    if category:
        stmt = stmt.where(Incident.category == category)
    if urgency:
        stmt = stmt.where(Incident.urgency == urgency)
    if source:
        stmt = stmt.where(Incident.id.in_(select(IncidentPost.incident_id).join(Post, Post.id == IncidentPost.post_id).where(Post.source_key == source)))
    if opened_from is not None:
        stmt = stmt.where(Incident.created_at >= opened_from)
    if opened_before is not None:
        stmt = stmt.where(Incident.created_at < opened_before)
    if overdue_at is not None:
        stmt = stmt.where(Incident.state.in_(OPEN_STATES), _next_due_sql() < overdue_at)
    return stmt


def incident_page(
    s: Session,
    scope: Scope,
    *,
    limit: int,
    after: Sequence[Any] | None = None,
    before: Sequence[Any] | None = None,
    order: str = "deadline",
    q: SearchQuery | None = None,
    **filters: Any,
) -> Page[Incident]:
    """One page of the scope's incidents (filters as in :func:`_incident_query`, ``q`` a search) with the total count."""
    if q is not None and not q.empty:
        filters["found"] = incident_filter(s, q)
    return keyset_page(s, _incident_query(scope, **filters), INCIDENT_ORDERS[order](), limit=limit, after=after, before=before)


def incident_rows(s: Session, scope: Scope, *, order: str = "deadline", q: SearchQuery | None = None, limit: int = 10000, **filters: Any) -> list[Incident]:
    """Every incident of a list view in its order (the CSV of the view), at most ``limit``."""
    if q is not None and not q.empty:
        filters["found"] = incident_filter(s, q)
    keys = INCIDENT_ORDERS[order]()
    stmt = _incident_query(scope, **filters).order_by(*[k.expr.desc() if k.desc else k.expr.asc() for k in keys]).limit(limit)
    return list(s.scalars(stmt))


def incident_posts(s: Session, incident_id: int) -> list[tuple[Post, PostAnalysis | None]]:
    posts = list(
        s.scalars(
            select(Post).join(IncidentPost, IncidentPost.post_id == Post.id).where(IncidentPost.incident_id == incident_id).order_by(Post.published_at)
        )
    )
    latest = latest_analyses(s, [p.id for p in posts])
    return [(p, latest.get(p.id)) for p in posts]


def incident_assignments(s: Session, incident_id: int) -> list[Assignment]:
    return list(s.scalars(select(Assignment).where(Assignment.incident_id == incident_id).order_by(Assignment.assigned_at, Assignment.id)))


def source_of_key(s: Session, source_key: str) -> tuple[str, str | None] | None:
    """(platform, source title) of the posts with this source key, None if there are none."""
    row = s.execute(
        select(Post.platform, Source.title).outerjoin(Source, Source.id == Post.source_id).where(Post.source_key == source_key).order_by(Source.title.is_(None)).limit(1)
    ).first()
    return (row[0], row[1]) if row else None
