"""Assignment and routing: which authority holds an incident, rerouting, reclassification."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from config import RegionProfile
from pipeline.labels import STATE_NAMES
from storage import events as ev
from storage import incidents as q
from storage.models import Incident, IncidentEvent

from ..deadlines import STAGES
from ..routing import RoutingDecision, route
from .common import IncidentError, _event, _notify, _profile, _require_open, _tx_cache
from .due_dates import _apply_deadlines, _deadline_start, _reset_deadline_log
from .lifecycle import transition
from .recipients import _authority


def route_incident(session: Session, profile: RegionProfile, incident: Incident, actor: str, now: datetime,
                   route_to: tuple[str, str] | None = None) -> RoutingDecision:
    """Route a new incident: assignment, deadlines, state ``routed``, event (and notification).

    ``route_to`` = (authority code, Russian reason) hands it to that authority instead of the rules
    (a resident's problem left unanswered on the authority's official page: ``pipeline/official.py``).
    """
    _require_open(incident)
    if route_to is not None:
        decision = RoutingDecision(route_to[0], None, "official_page", route_to[1])
    else:
        decision = _route_cached(session, profile, incident)
    authority = _authority(session, profile, decision.authority)
    q.add_assignment(session, incident, authority.id, actor, now, f"маршрутизация: {decision.rule_label}", flush=False)
    incident.authority_id = authority.id
    incident.routing_rule = decision.explanation
    incident.routed_at = now
    due = _apply_deadlines(profile, incident, now)
    event = transition(session, incident, ev.ROUTED, actor, now,
                       data={"rule": decision.rule_index, "via": decision.via, "authority": authority.code, "due": due},
                       authority_id=authority.id)
    _reset_deadline_log(incident)
    _notify(session, profile, event, now)
    return decision


def _route_cached(session: Session, profile: RegionProfile, incident: Incident) -> RoutingDecision:
    """``route`` (pure) once per profile and values within the session's transaction."""
    cache = _tx_cache(session)
    key = ("route", id(profile), incident.sector, incident.category, incident.municipality, incident.urgency)
    held = cache.get(key)
    if held is None or held[0] is not profile:
        held = (profile, route(profile, incident.sector, incident.category, incident.municipality, incident.urgency))
        cache[key] = held
    return held[1]


def reroute(
    session: Session, incident: Incident, authority_code: str, actor: str, reason: str, now: datetime,
    profile: RegionProfile | None = None, recompute_deadlines: bool = True,
) -> IncidentEvent:
    """Hand the incident to another authority; the old assignment is closed, not lost.

    By default the stages not yet answered get fresh deadlines counted from
    now (the new authority learns of the incident only now; the time lost
    is in the log); ``recompute_deadlines=False`` keeps the old due times.
    """
    _require_open(incident)
    if incident.state not in ev.ROUTED_OPEN_STATES:
        raise IncidentError(f"инцидент №{incident.id} в состоянии «{STATE_NAMES[incident.state]}»: перенаправить нельзя")
    profile = _profile(incident.region, profile)
    new = _authority(session, profile, authority_code)
    old_id = incident.authority_id
    if new.id == old_id:
        raise IncidentError(f"инцидент №{incident.id} уже направлен органу {authority_code}")
    q.close_assignment(session, incident.id, now)
    q.add_assignment(session, incident, new.id, actor, now, reason)
    incident.authority_id = new.id
    old_due = {s: (getattr(incident, f"{s}_due").isoformat() if getattr(incident, f"{s}_due") else None) for s in STAGES}
    data: dict[str, Any] = {"from_authority_id": old_id, "to_authority": new.code, "reason": reason, "old_due": old_due}
    if recompute_deadlines:
        incident.final_due_pinned = False
        data["due"] = _apply_deadlines(profile, incident, now)
        _reset_deadline_log(incident)
    event = _event(session, incident, ev.REROUTED, actor, now, authority_id=new.id, data=data)
    _notify(session, profile, event, now)
    return event


def _change_class(
    session: Session, profile: RegionProfile, incident: Incident, sector: str | None, category: str | None,
    urgency: str | None, actor: str, now: datetime, note: str | None = None,
) -> IncidentEvent | None:
    """Write the new classification; re-route if the authority changes, else recount deadlines
    when the urgency changed (the new due times go into the event: the log is append-only)."""
    before = {"sector": incident.sector, "category": incident.category, "urgency": incident.urgency}
    after: dict[str, Any] = {"sector": sector, "category": category, "urgency": urgency or incident.urgency}
    if before == after:
        return None
    incident.sector, incident.category, incident.urgency = after["sector"], after["category"], after["urgency"]
    data: dict[str, Any] = {"from": before, "to": after}
    if note:
        data["note"] = note
    live = incident.state in ev.ROUTED_OPEN_STATES
    target = decision = None
    if live:
        decision = route(profile, incident.sector, incident.category, incident.municipality, incident.urgency)
        target = _authority(session, profile, decision.authority)
        start = _deadline_start(incident)
        if target.id == incident.authority_id and before["urgency"] != after["urgency"] and start is not None:
            data["due"] = _apply_deadlines(profile, incident, start)
            _reset_deadline_log(incident)
    event = _event(session, incident, ev.RECLASSIFIED, actor, now, data=data)
    if live and target is not None and decision is not None and target.id != incident.authority_id:
        incident.routing_rule = decision.explanation
        reroute(session, incident, target.code, actor, f"переклассификация: {decision.rule_label}", now, profile)
    return event


def reclassify(
    session: Session, incident: Incident, sector: str | None, category: str | None, urgency: str | None,
    actor: str, now: datetime, profile: RegionProfile | None = None,
) -> IncidentEvent | None:
    """Change sector/category/urgency by hand; re-routes when the responsible authority changes."""
    _require_open(incident)
    profile = _profile(incident.region, profile)
    if sector is not None and profile.sector(sector) is None:
        raise IncidentError(f"неизвестное направление {sector!r}")
    if sector is not None and category is not None and profile.sector(sector).category(category) is None:  # type: ignore[union-attr]
        raise IncidentError(f"в направлении {sector} нет категории {category!r}")
    if urgency is not None and urgency not in ("high", "normal"):
        raise IncidentError(f"срочность должна быть high или normal, а не {urgency!r}")
    return _change_class(session, profile, incident, sector, category, urgency, actor, now)
