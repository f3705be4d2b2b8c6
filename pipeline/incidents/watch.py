"""The deadline watch: reminders before and escalations after the watched stage's due time."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.orm import Session

from config import RegionProfile
from storage import events as ev
from storage import incidents as q
from storage.models import Incident

from ..deadlines import STAGES, escalation_times, reminder_times
from .common import SYSTEM, _event, _notify, _set_detail
from .due_dates import _done_stages
from .recipients import escalation_recipient


@dataclass(frozen=True)
class Action:
    """A reminder or escalation that fell due, already recorded as an event."""

    kind: str  # "reminder" | "escalation"
    incident_id: int
    stage: str
    due: datetime
    event_id: int
    minutes_before: int | None = None
    level: int | None = None
    role: str | None = None
    #: Authority code that must be told.
    recipient: str | None = None
    dedup_key: str = ""
    data: dict[str, Any] = field(default_factory=dict)


def watched_stage(incident: Incident) -> str | None:
    """The stage whose deadline is watched: the first not yet done."""
    done = _done_stages(incident)
    for stage in STAGES:
        if stage not in done:
            return stage
    return None


def check_deadlines(session: Session, profile: RegionProfile, now: datetime) -> list[Action]:
    """Reminders before and escalations after the watched deadline of every open incident.

    Idempotent: what was sent is kept per stage in ``details.deadline_log``
    (and as events), so each reminder and each escalation level happens
    once however often this runs. Incidents are locked while checked
    (``SELECT … FOR UPDATE`` on PostgreSQL) so two schedulers do not both act.
    """
    actions: list[Action] = []
    policy = profile.deadlines
    for inc in q.incidents_to_check(session, profile.code):
        stage = watched_stage(inc)
        if stage is None:
            continue
        due = getattr(inc, f"{stage}_due")
        if due is None:
            continue
        if due - timedelta(minutes=max(policy.reminders_minutes or [0])) > now:
            continue  # nothing due yet: do not lock
        inc = q.get_incident(session, inc.id, lock=True) or inc
        log = {k: dict(v) for k, v in ((inc.details or {}).get("deadline_log") or {}).items()}
        entry = log.setdefault(stage, {})
        changed = False
        # reminders: before the deadline only; several due at once give one (the nearest)
        sent = set(entry.get("reminders") or [])
        fresh = [(m, at) for m, at in reminder_times(due, policy.reminders_minutes) if at <= now < due and m not in sent]
        if fresh:
            minutes = min(m for m, _ in fresh)
            recipient = escalation_recipient(session, profile, inc, "specialist")
            event = _event(session, inc, ev.REMINDER, SYSTEM, now, authority_id=inc.authority_id,
                           data={"stage": stage, "minutes_before": minutes, "due": due.isoformat(), "recipient": recipient})
            entry["reminders"] = sorted(sent | {m for m, _ in fresh})
            changed = True
            actions.append(Action("reminder", inc.id, stage, due, event.id, minutes_before=minutes, recipient=recipient,
                                  dedup_key=f"reminder:{inc.id}:{stage}:{due.isoformat()}:{minutes}", data=event.data))
            _notify(session, profile, event, now)
        # escalations: each level once
        level_done = int(entry.get("level") or 0)
        for level, role, at in escalation_times(due, policy):
            if level <= level_done or at > now:
                continue
            recipient = escalation_recipient(session, profile, inc, role)
            rec_row = q.authority_by_code(session, profile.code, recipient) if recipient else None
            event = _event(session, inc, ev.ESCALATED, SYSTEM, now, authority_id=rec_row.id if rec_row else None,
                           data={"stage": stage, "level": level, "role": role, "recipient": recipient,
                                 "due": due.isoformat(), "overdue_minutes": int((now - due).total_seconds() // 60)})
            entry["level"] = level
            inc.escalation_level = max(inc.escalation_level or 0, level)
            changed = True
            actions.append(Action("escalation", inc.id, stage, due, event.id, level=level, role=role, recipient=recipient,
                                  dedup_key=f"escalation:{inc.id}:{stage}:{due.isoformat()}:{level}", data=event.data))
            _notify(session, profile, event, now)
        if changed:
            log[stage] = entry
            _set_detail(inc, "deadline_log", log)
    session.flush()
    return actions
