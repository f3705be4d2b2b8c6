"""Opening a routed incident in the processing pass as rows, not ORM objects.

``open_incident`` + ``route_incident`` make a new incident through the ORM:
the incident, a flush for its id, the link, the ``created`` event, the
assignment, the due times, the ``routed`` event and its notification, each
read back and written with its own statements. The grouping index opens
thousands of incidents per pass, so ``Opener`` computes the same rows in
memory — the routing decision, the authority and the due times once per
(values, clock) for the pass — inserts the incident with one statement (its
id is needed at once: later posts of the batch may join it) and leaves the
link, the events, the assignment and the notifications to the index's
multi-row inserts at the end of the batch. The rows are those the ORM path
writes (``tests/test_process_batched.py`` compares them with the per-post
chain's): state ``routed``, the assignment with the rule, the due times of
every stage from the routing time, ``created`` then ``routed`` events, and
the ``routed`` notification rendered from what the pass knows (the incident
has one post: its URL and a count of 1, as ``storage.reporting.post_links``
would read them).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from config import RegionProfile
from storage import bulk
from storage import events as ev
from storage.models import Authority, Incident, IncidentEvent, Post

from ..deadlines import STAGES, Deadlines, compute_deadlines
from ..routing import RoutingDecision, route
from .grouping import _title
from .recipients import _authority

__all__ = ["Opened", "Opener"]

log = logging.getLogger(__name__)


@dataclass
class Opened:
    """A new incident written by ``Opener.open``: what the index still has to write for it."""

    id: int
    values: dict[str, Any]
    #: ``created`` and ``routed`` event rows (no ids yet).
    events: list[dict[str, Any]]
    assignment: dict[str, Any]
    link: dict[str, Any]
    authority: Authority
    #: URLs of its posts for the notification (``post_links``).
    links: list[str]


class Opener:
    """Opens routed incidents for one region and actor (see the module docstring)."""

    def __init__(self, profile: RegionProfile, actor: str) -> None:
        self.profile = profile
        self.actor = actor
        self._routes: dict[tuple[Any, ...], RoutingDecision] = {}
        self._due: dict[tuple[Any, ...], Deadlines] = {}

    def _route(self, sector: str | None, category: str | None, municipality: str | None, urgency: str) -> RoutingDecision:
        key = (sector, category, municipality, urgency)
        decision = self._routes.get(key)
        if decision is None:
            decision = self._routes[key] = route(self.profile, sector, category, municipality, urgency)
        return decision

    def _deadlines(self, urgency: str, start: datetime) -> Deadlines:
        key = (urgency, start)
        due = self._due.get(key)
        if due is None:
            due = self._due[key] = compute_deadlines(self.profile.deadlines, self.profile.region.tz, urgency, start)
        return due

    def open(self, session: Session, post: Post, sector: str | None, category: str | None, urgency: str,
             municipality: str | None, now: datetime, grouping_details: dict[str, Any], follows: int | None = None,
             route_to: tuple[str, str] | None = None) -> Opened:
        """Insert the incident of ``post``, routed at ``now``; the rest is returned for the caller to write."""
        if route_to is not None:
            decision = RoutingDecision(route_to[0], None, "official_page", route_to[1])
        else:
            decision = self._route(sector, category, municipality, urgency)
        authority = _authority(session, self.profile, decision.authority)
        deadlines = self._deadlines(urgency, now)
        due_at = {stage: deadlines.get(stage) for stage in STAGES}
        details: dict[str, Any] = {"follows": follows} if follows is not None else {}
        details.update(grouping_details)
        details["deadline_log"] = {}
        values: dict[str, Any] = dict(
            region=self.profile.code, title=_title(post.text), sector=sector, category=category,
            municipality=municipality, urgency=urgency, state=ev.ROUTED, authority_id=authority.id,
            routing_rule=decision.explanation, created_at=now, updated_at=now, first_seen_at=post.published_at,
            last_post_at=post.published_at, routed_at=now, deadline_start_at=now,
            first_reply_due=due_at["first_reply"], interim_due=due_at["interim"], final_due=due_at["final"],
            details=details,
        )
        incident_id = bulk.insert_incident(session, values)
        created: dict[str, Any] = {"post_id": post.id}
        if follows is not None:
            created["follows"] = follows
        due = {s: (d.isoformat() if d else None) for s, d in due_at.items()}
        events = [
            self._event_row(incident_id, ev.CREATED, now, None, ev.NEW, None, created),
            self._event_row(incident_id, ev.ROUTED_EV, now, ev.NEW, ev.ROUTED, authority.id,
                            {"rule": decision.rule_index, "via": decision.via, "authority": authority.code, "due": due}),
        ]
        assignment = {"incident_id": incident_id, "authority_id": authority.id, "assigned_at": now, "actor": self.actor,
                      "reason": f"маршрутизация: {decision.rule_label}"}
        link = {"post_id": post.id, "incident_id": incident_id, "added_at": now}
        return Opened(incident_id, values, events, assignment, link, authority, [str(post.url)] if post.url else [])

    def _event_row(self, incident_id: int, kind: str, at: datetime, from_state: str | None, to_state: str | None,
                   authority_id: int | None, data: dict[str, Any]) -> dict[str, Any]:
        return {"incident_id": incident_id, "at": at, "actor": self.actor, "kind": kind, "from_state": from_state,
                "to_state": to_state, "authority_id": authority_id, "data": data}

    def messages(self, opened: Opened, routed_event_id: int) -> list[dict[str, Any]]:
        """The ``routed`` notification of a new incident (``enqueue_many``'s rows); none if it cannot be
        built — it is logged and the notification sweep tries the event again, as for ``_notify``."""
        from pipeline.notify.messages import context_of, message_fields

        try:
            incident = Incident(id=opened.id, **opened.values)
            event = IncidentEvent(id=routed_event_id, **opened.events[1])
            ctx = context_of(self.profile, incident, event, opened.authority, opened.links[:5], 1)
            return message_fields(self.profile, incident, event, opened.authority, ctx)
        except Exception:  # the incident stands; the sweep retries its notification
            log.exception("notification of the routed event %s of incident %s failed; left to the sweep", routed_event_id, opened.id)
            return []
