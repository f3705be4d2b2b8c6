"""Incidents, their posts, events, assignments, responses, reviews, authorities: SQL only.

No business rules live here (see ``pipeline/incidents/``); every function is
a query or an insert on the session it is given, inside the caller's
transaction.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Iterable, Sequence

from sqlalchemy import and_, func, or_, select, update
from sqlalchemy.orm import Session, aliased

from .events import OPEN_STATES, ROUTED_OPEN_STATES
from .models import (
    Assignment,
    Authority,
    Incident,
    IncidentEvent,
    IncidentPost,
    Post,
    PostAnalysis,
    Response,
    ReviewDecision,
)

__all__ = [
    "add_incident_posts",
    "analyses_of_posts",
    "incident_details",
    "incident_heads",
    "incidents_of_posts",
    "insert_analyses",
    "mark_processed",
    "pending_post_rows",
    "appeal_ids",
    "posts_by_id",
    "add_assignment",
    "add_event",
    "add_response",
    "add_review_decision",
    "analysis_for",
    "attach_post",
    "authorities",
    "authorities_by_code",
    "authority_names",
    "busiest_authority",
    "authority_by_code",
    "candidate_incidents",
    "close_assignment",
    "count_incidents",
    "current_assignment",
    "detach_post",
    "events_of",
    "get_incident",
    "incident_of_post",
    "incident_posts_by_external",
    "incidents_to_check",
    "list_incidents",
    "pending_posts",
    "pending_reviews",
    "post_ids_of",
    "posts_of",
    "responses_of",
    "assignments_of",
    "oldest_waiting_for_first_reply",
    "unanswered_comments",
    "unrecorded_replies",
    "upsert_authority",
]


# --------------------------------------------------------------------------- authorities


def upsert_authority(session: Session, region: str, code: str, fields: dict[str, Any]) -> Authority:
    row = session.scalar(select(Authority).where(Authority.region == region, Authority.code == code))
    if row is None:
        # another process may be inserting the same authority right now: its row wins, ours updates it
        session.execute(_insert(session, Authority).values(region=region, code=code, **fields)
                        .on_conflict_do_nothing(index_elements=["region", "code"]))
        row = session.scalar(select(Authority).where(Authority.region == region, Authority.code == code))
        assert row is not None
    else:
        for k, v in fields.items():
            if getattr(row, k) != v:
                setattr(row, k, v)
    return row


def authorities_by_code(session: Session, region: str) -> dict[str, Authority]:
    return {a.code: a for a in session.scalars(select(Authority).where(Authority.region == region))}


def authority_by_code(session: Session, region: str, code: str) -> Authority | None:
    return session.scalar(select(Authority).where(Authority.region == region, Authority.code == code))


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


# --------------------------------------------------------------------------- incidents


def get_incident(session: Session, incident_id: int, lock: bool = False) -> Incident | None:
    if not lock:
        return session.get(Incident, incident_id)
    # populate_existing: re-read the row under the lock even if the session already holds it
    return session.scalar(
        select(Incident).where(Incident.id == incident_id).with_for_update().execution_options(populate_existing=True)
    )


def candidate_incidents(
    session: Session, region: str, sector: str | None, municipality: str | None, since: datetime,
    any_municipality: bool = False, with_unplaced: bool = False,
) -> list[Incident]:
    """Open, unmerged incidents of the sector and municipality (or of any, if asked) with a post since ``since``;
    ``with_unplaced``: those of no municipality too (a post naming its town and a street address joins them by it)."""
    q = select(Incident).where(
        Incident.region == region,
        Incident.state.in_(OPEN_STATES),
        Incident.merged_into_id.is_(None),
        Incident.last_post_at >= since,
        Incident.sector == sector if sector is not None else Incident.sector.is_(None),
    )
    if not any_municipality:
        if municipality is None:
            q = q.where(Incident.municipality.is_(None))
        elif with_unplaced:
            q = q.where(or_(Incident.municipality == municipality, Incident.municipality.is_(None)))
        else:
            q = q.where(Incident.municipality == municipality)
    return list(session.scalars(q.order_by(Incident.last_post_at.desc(), Incident.id.desc())))


def incident_of_post(session: Session, post_id: int) -> Incident | None:
    return session.scalar(select(Incident).join(IncidentPost).where(IncidentPost.post_id == post_id))


def attach_post(session: Session, incident: Incident, post_id: int, now: datetime, unlinked: bool = False) -> IncidentPost:
    """Link the post to the incident (moving it if linked elsewhere). ``unlinked``: the caller knows the post
    has no link yet (a new post of the processing pass): no lookup, and the row waits for the next flush."""
    link = None if unlinked else session.get(IncidentPost, post_id)
    if link is None:
        link = IncidentPost(post_id=post_id, incident_id=incident.id, added_at=now)
        session.add(link)
    else:
        link.incident_id, link.added_at = incident.id, now
    if not unlinked:
        session.flush()
    return link


def detach_post(session: Session, post_id: int) -> None:
    link = session.get(IncidentPost, post_id)
    if link is not None:
        session.delete(link)
        session.flush()


def posts_of(session: Session, incident_id: int) -> list[Post]:
    return list(
        session.scalars(
            select(Post).join(IncidentPost, IncidentPost.post_id == Post.id)
            .where(IncidentPost.incident_id == incident_id)
            .order_by(Post.published_at, Post.id)
        )
    )


def post_ids_of(session: Session, incident_id: int) -> list[int]:
    return list(session.scalars(select(IncidentPost.post_id).where(IncidentPost.incident_id == incident_id).order_by(IncidentPost.post_id)))


def list_incidents(
    session: Session,
    region: str | None = None,
    states: Sequence[str] | None = None,
    include_merged: bool = False,
    limit: int | None = 100,
    offset: int = 0,
) -> list[Incident]:
    q = select(Incident)
    if region is not None:
        q = q.where(Incident.region == region)
    if states:
        q = q.where(Incident.state.in_(list(states)))
    if not include_merged:
        q = q.where(Incident.merged_into_id.is_(None))
    q = q.order_by(Incident.id.desc()).offset(offset)
    if limit is not None:
        q = q.limit(limit)
    return list(session.scalars(q))


def count_incidents(session: Session, region: str | None = None, include_merged: bool = False) -> int:
    q = select(func.count(Incident.id))
    if region is not None:
        q = q.where(Incident.region == region)
    if not include_merged:
        q = q.where(Incident.merged_into_id.is_(None))
    return session.scalar(q) or 0


def incidents_to_check(session: Session, region: str) -> list[Incident]:
    """Open, unmerged, routed incidents: the ones whose deadlines run."""
    q = select(Incident).where(
        Incident.region == region,
        Incident.state.in_(ROUTED_OPEN_STATES),
        Incident.merged_into_id.is_(None),
    )
    return list(session.scalars(q.order_by(Incident.id)))


# --------------------------------------------------------------------------- events, assignments, responses


def add_event(
    session: Session,
    incident: Incident,
    kind: str,
    actor: str,
    at: datetime,
    from_state: str | None = None,
    to_state: str | None = None,
    authority_id: int | None = None,
    data: dict[str, Any] | None = None,
    flush: bool = True,
) -> IncidentEvent:
    """Write an event; ``flush=False`` leaves the insert to the next flush (the caller needs no id yet)."""
    ev = IncidentEvent(
        incident_id=incident.id,
        at=at,
        actor=actor,
        kind=kind,
        from_state=from_state,
        to_state=to_state,
        authority_id=authority_id,
        data=data or {},
    )
    session.add(ev)
    if flush:
        session.flush()
    return ev


def events_of(session: Session, incident_id: int, kinds: Iterable[str] | None = None) -> list[IncidentEvent]:
    q = select(IncidentEvent).where(IncidentEvent.incident_id == incident_id)
    if kinds is not None:
        q = q.where(IncidentEvent.kind.in_(list(kinds)))
    return list(session.scalars(q.order_by(IncidentEvent.at, IncidentEvent.id)))


def current_assignment(session: Session, incident_id: int) -> Assignment | None:
    return session.scalar(
        select(Assignment).where(Assignment.incident_id == incident_id, Assignment.ended_at.is_(None))
        .order_by(Assignment.id.desc())
    )


def assignments_of(session: Session, incident_id: int) -> list[Assignment]:
    return list(session.scalars(select(Assignment).where(Assignment.incident_id == incident_id).order_by(Assignment.id)))


def add_assignment(session: Session, incident: Incident, authority_id: int, actor: str, at: datetime, reason: str | None,
                   flush: bool = True) -> Assignment:
    a = Assignment(incident_id=incident.id, authority_id=authority_id, assigned_at=at, actor=actor, reason=reason)
    session.add(a)
    if flush:
        session.flush()
    return a


def close_assignment(session: Session, incident_id: int, at: datetime) -> Assignment | None:
    a = current_assignment(session, incident_id)
    if a is not None:
        a.ended_at = at
        session.flush()
    return a


def add_response(session: Session, **fields: Any) -> Response:
    r = Response(**fields)
    session.add(r)
    session.flush()
    return r


def responses_of(session: Session, incident_id: int) -> list[Response]:
    return list(session.scalars(select(Response).where(Response.incident_id == incident_id).order_by(Response.at, Response.id)))


def add_review_decision(session: Session, **fields: Any) -> ReviewDecision:
    r = ReviewDecision(**fields)
    session.add(r)
    session.flush()
    return r


# --------------------------------------------------------------------------- posts and analyses


def pending_posts(session: Session, limit: int | None = None, after_id: int = 0) -> list[Post]:
    """Posts not yet analysed (or edited since), not deleted, in id order."""
    q = select(Post).where(Post.processed_at.is_(None), Post.is_deleted.is_(False), Post.id > after_id).order_by(Post.id)
    if limit is not None:
        q = q.limit(limit)
    return list(session.scalars(q))


def count_pending_posts(session: Session) -> int:
    """How many posts a processing pass would take (as :func:`pending_posts` without a limit)."""
    return session.scalar(select(func.count(Post.id)).where(Post.processed_at.is_(None), Post.is_deleted.is_(False))) or 0


def analysis_for(session: Session, post_id: int, model_version: str | None = None) -> PostAnalysis | None:
    """The analysis of a post by ``model_version``, or its latest one."""
    q = select(PostAnalysis).where(PostAnalysis.post_id == post_id)
    if model_version is not None:
        q = q.where(PostAnalysis.model_version == model_version)
    return session.scalar(q.order_by(PostAnalysis.created_at.desc(), PostAnalysis.id.desc()).limit(1))


def pending_reviews(session: Session, limit: int | None = 100) -> list[tuple[Post, PostAnalysis]]:
    """The operators' queue (``storage.analyses``: latest analysis unsure, no decision in force), newest first."""
    from .analyses import review_queue_stmt

    q = review_queue_stmt((Post, PostAnalysis)).order_by(Post.published_at.desc(), Post.id.desc())
    if limit is not None:
        q = q.limit(limit)
    return [(p, a) for p, a in session.execute(q)]


def unanswered_comments(
    session: Session, region: str, account_ids: Sequence[str]
) -> list[tuple[Incident, Post, Post]]:
    """(incident, incident post, comment) for VK comments by ``account_ids`` under an incident's post
    that are not yet recorded as a response."""
    if not account_ids:
        return []
    parent = aliased(Post)
    comment = aliased(Post)
    q = (
        select(Incident, parent, comment)
        .join(IncidentPost, IncidentPost.incident_id == Incident.id)
        .join(parent, parent.id == IncidentPost.post_id)
        .join(
            comment,
            and_(
                comment.platform == parent.platform,
                comment.source_key == parent.source_key,
                comment.parent_external_id == parent.external_id,
            ),
        )
        .outerjoin(Response, Response.post_id == comment.id)
        .where(
            Incident.region == region,
            Incident.first_reply_at.is_(None),
            parent.platform == "vk",
            comment.author_id.in_(list(account_ids)),
            comment.is_deleted.is_(False),
            Response.id.is_(None),
        )
        .order_by(comment.published_at, comment.id)
    )
    return [(i, p, c) for i, p, c in session.execute(q)]


def oldest_waiting_for_first_reply(session: Session, region: str, states: Sequence[str]) -> datetime | None:
    """Earliest ``first_seen_at`` of the region's incidents in ``states`` still without a first reply."""
    return session.scalar(
        select(func.min(Incident.first_seen_at)).where(
            Incident.region == region,
            Incident.first_reply_at.is_(None),
            Incident.merged_into_id.is_(None),
            Incident.state.in_(list(states)),
        )
    )


def unrecorded_replies(
    session: Session, platform: str, author_ids: Sequence[str], since: datetime | None = None
) -> list[Post]:
    """Replies (posts with a parent) on ``platform`` by ``author_ids``, published at or after ``since``,
    not deleted and not yet recorded as a response; oldest first."""
    if not author_ids:
        return []
    q = (
        select(Post)
        .outerjoin(Response, Response.post_id == Post.id)
        .where(
            Post.platform == platform,
            Post.author_id.in_(list(author_ids)),
            Post.parent_external_id.is_not(None),
            Post.is_deleted.is_(False),
            Response.id.is_(None),
        )
        .order_by(Post.published_at, Post.id)
    )
    if since is not None:
        q = q.where(Post.published_at >= since)
    return list(session.scalars(q))


def incident_posts_by_external(
    session: Session, region: str, platform: str, source_key: str, external_ids: Sequence[str]
) -> list[tuple[Incident, Post]]:
    """(incident, post) for the posts ``external_ids`` of one source that are in one of the region's incidents."""
    if not external_ids:
        return []
    q = (
        select(Incident, Post)
        .join(IncidentPost, IncidentPost.incident_id == Incident.id)
        .join(Post, Post.id == IncidentPost.post_id)
        .where(
            Incident.region == region,
            Post.platform == platform,
            Post.source_key == source_key,
            Post.external_id.in_(list(external_ids)),
        )
    )
    return [(i, p) for i, p in session.execute(q)]


# --------------------------------------------------------------------------- batch reads and writes of the processing pass


def _insert(session: Session, model: Any, core: bool = False):
    """``INSERT`` of the session's dialect (SQLite and PostgreSQL both know ``ON CONFLICT``); ``core``: of the
    model's table, so a list of rows is one executemany (the ORM's bulk insert splits the rows by the columns
    they leave ``None`` and builds each row's parameters in Python)."""
    if session.get_bind().dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert
    else:
        from sqlalchemy.dialects.sqlite import insert  # type: ignore[assignment]  # the same ON CONFLICT insert for SQLite
    return insert(model.__table__ if core else model)


def pending_post_rows(session: Session, limit: int, after_id: int = 0, region: Any = None) -> list[tuple[int, str, str]]:
    """``(id, text, content_hash)`` of pending posts (see ``pending_posts``), in id order; with ``region`` (a
    ``storage.regions.RegionFilter``), of that region only."""
    q = (
        select(Post.id, Post.text, Post.content_hash)
        .where(Post.processed_at.is_(None), Post.is_deleted.is_(False), Post.id > after_id)
        .order_by(Post.id).limit(limit)
    )
    if region is not None:
        q = q.where(region.posts)
    return [(i, t or "", h) for i, t, h in session.execute(q)]


def appeal_ids(session: Session, ids: Sequence[int]) -> set[int]:
    """Those of ``ids`` that are appeals from a feedback platform (``posts.is_appeal``)."""
    if not ids:
        return set()
    return set(session.scalars(select(Post.id).where(Post.id.in_(list(ids)), Post.is_appeal.is_(True))))


def posts_by_id(session: Session, ids: Sequence[int]) -> dict[int, Post]:
    return {p.id: p for p in session.scalars(select(Post).where(Post.id.in_(list(ids))))} if ids else {}


def analyses_of_posts(session: Session, ids: Sequence[int], model_version: str) -> dict[int, PostAnalysis]:
    """The analyses by ``model_version`` of the posts ``ids`` that have one."""
    if not ids:
        return {}
    q = select(PostAnalysis).where(PostAnalysis.post_id.in_(list(ids)), PostAnalysis.model_version == model_version)
    return {a.post_id: a for a in session.scalars(q)}


def insert_analyses(session: Session, rows: Sequence[dict[str, Any]]) -> None:
    """Insert analyses in one statement (executemany); a row another process has already
    inserted for the same post and model is left as it is (``ON CONFLICT DO NOTHING``)."""
    if rows:
        session.execute(_insert(session, PostAnalysis, core=True).on_conflict_do_nothing(
            index_elements=["post_id", "model_version"]), list(rows))


def incidents_of_posts(session: Session, ids: Sequence[int]) -> dict[int, int]:
    """post id -> incident id, for the posts ``ids`` that are in an incident."""
    if not ids:
        return {}
    q = select(IncidentPost.post_id, IncidentPost.incident_id).where(IncidentPost.post_id.in_(list(ids)))
    return {p: i for p, i in session.execute(q)}


def add_incident_posts(session: Session, rows: Sequence[dict[str, Any]]) -> None:
    """Link posts to incidents in one statement; a post already linked keeps its link."""
    if rows:
        session.execute(_insert(session, IncidentPost, core=True).on_conflict_do_nothing(index_elements=["post_id"]), list(rows))


def insert_events(session: Session, rows: Sequence[dict[str, Any]]) -> None:
    """Write incident events in one multi-row insert (in the given order: ids follow it)."""
    if rows:
        session.execute(_insert(session, IncidentEvent, core=True), list(rows))


def mark_processed(session: Session, ids: Sequence[int], now: datetime) -> None:
    if ids:
        session.execute(
            update(Post).where(Post.id.in_(list(ids))).values(processed_at=now).execution_options(synchronize_session=False)
        )


#: What the grouping index keeps of an incident without its details.
HEAD_COLUMNS = (Incident.id, Incident.sector, Incident.category, Incident.municipality, Incident.state,
                Incident.merged_into_id, Incident.first_seen_at, Incident.last_post_at, Incident.updated_at,
                Incident.urgency)


def incident_heads(session: Session, region: str, updated_since: datetime | None = None,
                   except_updated_at: datetime | None = None) -> list[tuple]:
    """Light rows (``HEAD_COLUMNS``) of the region's open, unmerged incidents; with
    ``updated_since``, of every incident of the region changed since then (whatever its state),
    but for those last changed exactly at ``except_updated_at`` (the caller's own changes)."""
    q = select(*HEAD_COLUMNS).where(Incident.region == region)
    if updated_since is None:
        q = q.where(Incident.state.in_(OPEN_STATES), Incident.merged_into_id.is_(None))
    else:
        q = q.where(Incident.updated_at >= updated_since)
        if except_updated_at is not None:
            q = q.where(Incident.updated_at != except_updated_at)
    return list(session.execute(q.order_by(Incident.id)))


def incident_details(session: Session, ids: Sequence[int]) -> dict[int, dict[str, Any]]:
    if not ids:
        return {}
    return {i: (d or {}) for i, d in session.execute(select(Incident.id, Incident.details).where(Incident.id.in_(list(ids))))}
