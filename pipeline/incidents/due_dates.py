"""Due dates of an incident's stages: set from the deadline rules, kept across answers."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.orm import object_session

from config import RegionProfile
from storage.models import Incident

from ..deadlines import STAGES, Deadlines, compute_deadlines
from .common import _set_detail, _tx_cache


def _apply_deadlines(profile: RegionProfile, incident: Incident, start: datetime, keep_done: bool = True) -> dict[str, str | None]:
    """Set the due times of the stages not yet done, counting from ``start``."""
    due = _deadlines(profile, incident, start)
    incident.deadline_start_at = start
    done = _done_stages(incident)
    for stage in STAGES:
        if keep_done and stage in done and getattr(incident, f"{stage}_due") is not None:
            continue
        if stage == "final" and incident.final_due_pinned:
            continue
        setattr(incident, f"{stage}_due", due.get(stage))
    return {s: (getattr(incident, f"{s}_due").isoformat() if getattr(incident, f"{s}_due") else None) for s in STAGES}


def _deadlines(profile: RegionProfile, incident: Incident, start: datetime) -> Deadlines:
    """``compute_deadlines`` (pure), once per policy, urgency and times within the incident session's
    transaction: the incidents a processing batch opens are all routed at the pass's clock."""
    policy, tz = profile.deadlines, profile.region.tz
    args = (incident.urgency, start, incident.first_reply_at, incident.interim_at)
    session = object_session(incident)
    cache = _tx_cache(session) if session is not None else {}
    key = ("deadlines", id(policy), id(tz), start.tzinfo, *args)
    held = cache.get(key)
    if held is None or held[0] is not policy or held[1] is not tz:
        held = (policy, tz, compute_deadlines(policy, tz, args[0], start, first_reply_at=args[2], interim_at=args[3]))
        cache[key] = held
    return held[2]


def _deadline_start(incident: Incident) -> datetime | None:
    """Where the countdown of the current assignment started (routing or the last reroute)."""
    return incident.deadline_start_at or incident.routed_at


def _done_stages(incident: Incident) -> set[str]:
    done = set()
    if incident.first_reply_at or incident.interim_at or incident.final_at:
        done.add("first_reply")
    if incident.interim_at or incident.final_at:
        done.add("interim")
    if incident.final_at or incident.resolved_at:
        done.add("final")
    return done


def _reset_deadline_log(incident: Incident) -> None:
    _set_detail(incident, "deadline_log", {})
