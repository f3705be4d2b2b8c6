"""The grouping index: the region's open incidents in memory for one processing pass.

``find_incident`` (the per-post path) reads the candidate incidents of every
post from the database, with their signatures. The processing pass instead
keeps a ``GroupingIndex``: the light columns of every open, unmerged incident
of the region (sector, category, municipality, state, first and last post,
``updated_at``), bucketed by (sector, municipality), and the signatures of
the incidents that were candidates lately (loaded on first use, least
recently used ones dropped past ``CACHE``). At the start of every batch
``refresh`` re-reads the incidents changed since the last refresh (an
operator's merge, resolve, review) and forgets their signatures.

A post is placed with the same rules and in the same order as
``find_incident`` (``choose_incident`` is shared), so the batched pass makes
the same incidents as the per-post one. Nothing of a join or of a new
incident goes through ORM objects: joining changes the incident's view in
memory and queues the link and the ``post_added`` event; a new post of the
pass (``unlinked``) opens its incident with ``opening.Opener`` (one insert
for the row, the rest queued). ``flush`` — at the end of the batch, and
before anything else writes an event, so event ids keep the order of the
changes — writes the queue in multi-row statements: the changed incidents'
times and signatures (``details``) by primary key, the links, the
assignments, the events, and the ``routed`` notifications of the new
incidents. An urgent post's reclassification and a post that may be linked
elsewhere go through the incident service as before.
"""

from __future__ import annotations

from bisect import bisect_left, insort
from collections import OrderedDict
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any, Collection

from sqlalchemy.orm import Session

from config import RegionProfile
from nlp.addresses import street_addresses
from storage import bulk
from storage import events as ev
from storage import incidents as q
from storage.models import Incident, Post

from .common import SYSTEM
from .grouping import (
    GroupCandidate,
    GroupingOptions,
    choose_incident,
    content_lemmas,
    make_urgent,
    open_incident,
)
from .opening import Opened, Opener

__all__ = ["GroupingIndex", "CACHE"]

#: Signatures kept in memory (least recently used dropped first).
CACHE = 3000
#: Changes made by others this long before the last refresh are looked for again (clock skew, long transactions).
MARGIN = timedelta(minutes=10)
_OPEN = frozenset(q.OPEN_STATES)


@dataclass(eq=False)
class _View(GroupCandidate):
    state: str = ""
    urgency: str = "normal"
    merged: bool = False
    updated_at: datetime | None = None
    loaded: bool = False


class _Bucket:
    """The open incidents of one (sector, municipality), ordered by their last post."""

    __slots__ = ("order",)

    def __init__(self) -> None:
        self.order: list[tuple[datetime, int, _View]] = []

    def add(self, view: _View) -> None:
        if view.last_post_at is not None:
            insort(self.order, (view.last_post_at, view.id, view), key=lambda t: t[:2])

    def remove(self, view: _View) -> None:
        if view.last_post_at is None:
            return
        key = (view.last_post_at, view.id)
        i = bisect_left(self.order, key, key=lambda t: t[:2])
        if i < len(self.order) and self.order[i][2] is view:
            del self.order[i]

    def since(self, at: datetime) -> list[_View]:
        i = bisect_left(self.order, (at, -1), key=lambda t: t[:2])
        return [t[2] for t in self.order[i:]]


class GroupingIndex:
    """Open incidents of one region for one processing pass (see the module docstring)."""

    def __init__(self, profile: RegionProfile, options: GroupingOptions, actor: str = SYSTEM) -> None:
        self.profile = profile
        self.options = options
        self.actor = actor
        self._views: dict[int, _View] = {}
        self._buckets: dict[str | None, dict[str | None, _Bucket]] = {}
        self._lru: OrderedDict[int, None] = OrderedDict()
        self._mark: datetime | None = None
        self._dirty: dict[int, _View] = {}
        #: The pass's clock: every incident this pass changes has this ``updated_at`` (not re-read).
        self._now: datetime | None = None
        self._links: list[dict[str, Any]] = []
        self._events: list[dict[str, Any]] = []
        self._assignments: list[dict[str, Any]] = []
        #: New incidents of the batch with the position of their ``routed`` event in ``_events``.
        self._opened: list[tuple[Opened, int]] = []
        self._opener = Opener(profile, actor)

    # -- keeping up with the database ----------------------------------------

    def refresh(self, session: Session) -> None:
        """Read the open incidents (first call) or those changed since the last refresh."""
        wall = datetime.now(timezone.utc)
        rows = q.incident_heads(session, self.profile.code, None if self._mark is None else self._mark,
                                except_updated_at=self._now)
        self._mark = wall - MARGIN
        for row in rows:
            self._put(*row)

    def _put(self, id_: int, sector: str | None, category: str | None, municipality: str | None, state: str,
             merged_into_id: int | None, first_seen_at: datetime | None, last_post_at: datetime | None,
             updated_at: datetime | None, urgency: str | None = None) -> None:
        view = self._views.get(id_)
        if view is not None and view.updated_at == updated_at:
            return
        if view is not None:
            self._drop(view)
        if state not in _OPEN or merged_into_id is not None:
            return
        view = _View(id_, sector, category, municipality, first_seen_at, last_post_at, state=state,
                     urgency=urgency or "normal", updated_at=updated_at)
        self._add(view)

    def _bucket(self, view: _View) -> _Bucket:
        return self._buckets.setdefault(view.sector, {}).setdefault(view.municipality, _Bucket())

    def _add(self, view: _View) -> None:
        self._views[view.id] = view
        self._bucket(view).add(view)

    def _drop(self, view: _View) -> None:
        self._views.pop(view.id, None)
        self._bucket(view).remove(view)
        self._lru.pop(view.id, None)

    def _candidates(self, sector: str | None, municipality: str | None, since: datetime,
                    with_unplaced: bool = False) -> list[_View]:
        """Open incidents of the sector and municipality (any, for an unknown one; with those of none when
        ``with_unplaced``) with a post since ``since``, newest first (``storage.incidents.candidate_incidents``)."""
        by_place = self._buckets.get(sector) or {}
        if municipality is not None:
            bucket = by_place.get(municipality)
            out = bucket.since(since) if bucket else []
            unplaced = by_place.get(None) if with_unplaced else None
            if unplaced is not None:
                out = out + unplaced.since(since)
                out.sort(key=lambda v: (v.last_post_at, v.id))
            out.reverse()
            return out
        out = [v for b in by_place.values() for v in b.since(since)]
        out.sort(key=lambda v: (v.last_post_at, v.id), reverse=True)
        return out

    def _load(self, session: Session, views: list[_View]) -> None:
        missing = [v for v in views if not v.loaded]
        if missing:
            details = q.incident_details(session, [v.id for v in missing])
            for v in missing:
                v.fill(details.get(v.id) or {})
                v.loaded = True
        for v in views:
            self._lru[v.id] = None
            self._lru.move_to_end(v.id)

    def _evict(self) -> None:
        while len(self._lru) > CACHE:
            vid, _ = self._lru.popitem(last=False)
            view = self._views.get(vid)
            if view is not None and vid not in self._dirty:
                view.unload()
                view.loaded = False

    # -- placing posts --------------------------------------------------------

    def place(self, session: Session, post: Post, sector: str | None, category: str | None, urgency: str,
              municipality: str | None, now: datetime, streets: Collection[str] | None = None,
              route_to: tuple[str, str] | None = None, unlinked: bool = False) -> tuple[int, bool]:
        """Join ``post`` to its incident or open a new one; ``(incident id, created)``.

        ``streets``: the post's street addresses when the caller has them (``nlp.addresses``).
        ``route_to``: see ``open_incident`` (a new incident goes there; a joined one keeps its authority).
        ``unlinked``: the caller checked that the post is in no incident (a new incident is opened as rows,
        ``opening.Opener``; otherwise through ``open_incident``, which moves an existing link)."""
        self._now = now
        words = content_lemmas(post.text)
        if streets is None:
            streets = street_addresses(post.text)
        cands = self._candidates(sector, municipality, post.published_at - self.options.window,
                                 with_unplaced=self.options.address_level and bool(streets))
        self._load(session, cands)
        choice = choose_incident(cands, post, words, sector, category, municipality, self.options, streets)
        if choice.incident is not None:
            view = self._views[choice.incident.id]
            self._join(session, view, post, words, urgency, choice.similarity, now, streets)
            return view.id, False
        if unlinked:
            view = _View(0, sector, category, municipality, post.published_at, post.published_at, state=ev.ROUTED,
                         urgency=urgency, updated_at=now)
            view.absorb(post, words, self.options, streets)
            opened = self._opener.open(session, post, sector, category, urgency, municipality, now,
                                       view.grouping_details(), follows=choice.follows, route_to=route_to)
            view.id = opened.id
            self._links.append(opened.link)
            self._assignments.append(opened.assignment)
            self._events.extend(opened.events)
            self._opened.append((opened, len(self._events) - 1))
        else:
            self.flush(session)  # the incident service may read what this batch wrote
            incident = open_incident(session, self.profile, post, sector, category, urgency, municipality, now,
                                     self.options, self.actor, words=words, follows=choice.follows, streets=streets,
                                     route_to=route_to)
            session.flush()
            view = _View(incident.id, sector, category, municipality, incident.first_seen_at, incident.last_post_at,
                         state=incident.state, urgency=incident.urgency, updated_at=incident.updated_at)
            view.fill(incident.details or {})
        view.loaded = True
        self._add(view)
        self._lru[view.id] = None
        return view.id, True

    def _join(self, session: Session, view: _View, post: Post, words: set[str], urgency: str, sim: float,
              now: datetime, streets: Collection[str]) -> None:
        view.absorb(post, words, self.options, streets)
        self._dirty[view.id] = view
        self._links.append({"post_id": post.id, "incident_id": view.id, "added_at": now})
        last = max(view.last_post_at or post.published_at, post.published_at)
        if view.last_post_at != last:
            bucket = self._bucket(view)
            bucket.remove(view)
            view.last_post_at = last
            bucket.add(view)
        view.first_seen_at = min(view.first_seen_at or post.published_at, post.published_at)
        view.updated_at = now
        self._events.append({"incident_id": view.id, "at": now, "actor": self.actor, "kind": ev.POST_ADDED,
                             "from_state": None, "to_state": None, "authority_id": None,
                             "data": {"post_id": post.id, "similarity": round(sim, 3)}})
        if urgency == "high" and view.urgency != "high":
            self.flush(session)  # the incident's row as this batch left it, read fresh below
            incident = session.get(Incident, view.id, populate_existing=True)
            assert incident is not None
            make_urgent(session, self.profile, incident, self.actor, now)
            session.flush()
            view.urgency = incident.urgency
            view.updated_at = incident.updated_at

    def flush(self, session: Session) -> None:
        """Write what the batch queued (see the module docstring), inside the caller's transaction."""
        if self._dirty:
            stored = q.incident_details(session, list(self._dirty))
            rows = []
            for vid, view in self._dirty.items():
                if vid not in stored:
                    continue  # deleted meanwhile
                details = dict(stored[vid])
                details.update(view.grouping_details())
                rows.append({"id": vid, "first_seen_at": view.first_seen_at, "last_post_at": view.last_post_at,
                             "updated_at": view.updated_at, "details": details})
            bulk.update_incidents(session, rows)
            self._dirty.clear()
        q.add_incident_posts(session, self._links)
        self._links = []
        bulk.insert_assignments(session, self._assignments)
        self._assignments = []
        ids = bulk.insert_events_returning_ids(session, self._events)  # before any other event: ids keep the order
        self._events = []
        if self._opened:
            from pipeline.notify.outbox import enqueue_many

            messages = [m for opened, at in self._opened for m in self._opener.messages(opened, ids[at])]
            self._opened = []
            enqueue_many(session, messages, self._now or datetime.now(timezone.utc))
        self._evict()
