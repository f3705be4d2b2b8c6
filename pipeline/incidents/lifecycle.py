"""The state machine of an incident: transitions, answers, resolve/reject/reopen, fake mark."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from config import RegionProfile
from nlp import answers as quality
from pipeline.labels import STATE_NAMES
from storage import events as ev
from storage import incidents as q
from storage.models import Incident, IncidentEvent, Response

from ..deadlines import add_rule, select_rule
from .common import IncidentError, TransitionError, _event, _notify, _profile, _require_open, _set_detail
from .due_dates import _apply_deadlines, _deadline_start
from .recipients import _authority

#: Allowed state changes (``answered -> answered``: interim then final answer).
ALLOWED: dict[str, frozenset[str]] = {
    ev.NEW: frozenset({ev.ROUTED, ev.REJECTED}),
    ev.ROUTED: frozenset({ev.ACKNOWLEDGED, ev.ANSWERED, ev.RESOLVED, ev.REJECTED}),
    ev.ACKNOWLEDGED: frozenset({ev.ANSWERED, ev.RESOLVED, ev.REJECTED}),
    ev.ANSWERED: frozenset({ev.ANSWERED, ev.RESOLVED, ev.REJECTED}),
    ev.RESOLVED: frozenset({ev.REOPENED}),
    ev.REJECTED: frozenset({ev.REOPENED}),
    ev.REOPENED: frozenset({ev.ACKNOWLEDGED, ev.ANSWERED, ev.RESOLVED, ev.REJECTED}),
}
#: Event kind written for a change into a state (``answered`` names the answer kind).
_KIND_OF_STATE = {
    ev.ROUTED: ev.ROUTED_EV,
    ev.ACKNOWLEDGED: ev.ACKNOWLEDGED_EV,
    ev.RESOLVED: ev.RESOLVED_EV,
    ev.REJECTED: ev.REJECTED_EV,
    ev.REOPENED: ev.REOPENED_EV,
}
_ANSWER_KIND = {"first_reply": ev.ANSWER_FIRST, "interim": ev.ANSWER_INTERIM, "final": ev.ANSWER_FINAL}


def transition(
    session: Session, incident: Incident, to_state: str, actor: str, now: datetime,
    data: dict[str, Any] | None = None, kind: str | None = None, authority_id: int | None = None,
) -> IncidentEvent:
    """Change the state if the state machine allows it and write the event."""
    _require_open(incident)
    if to_state not in ALLOWED:
        raise TransitionError(f"неизвестное состояние {to_state!r}")
    frm = incident.state
    if to_state not in ALLOWED.get(frm, frozenset()):
        raise TransitionError(
            f"инцидент №{incident.id}: переход «{STATE_NAMES.get(frm, frm)}» → «{STATE_NAMES[to_state]}» не допускается"
        )
    kind = kind or _KIND_OF_STATE.get(to_state)
    if kind is None:
        raise TransitionError("для перехода в «дан ответ» используйте record_response")
    incident.state = to_state
    return _event(session, incident, kind, actor, now, from_state=frm, to_state=to_state,
                  authority_id=authority_id or incident.authority_id, data=data)


def acknowledge(session: Session, incident: Incident, actor: str, now: datetime) -> IncidentEvent:
    return transition(session, incident, ev.ACKNOWLEDGED, actor, now)


def record_response(
    session: Session, incident: Incident, kind: str, text: str, author: str, channel: str, now: datetime,
    authority_code: str | None = None, post_id: int | None = None, profile: RegionProfile | None = None,
    actor: str | None = None,
) -> IncidentEvent:
    """Record an answer (first reply, interim, final): Response row, times, state ``answered``, event.

    ``author`` is who signed the answer (kept on the Response); ``actor`` is who is
    accountable for recording it, written into the event log (default: the author).
    The API passes ``api:<authority>`` as the actor, so a back office's free-text
    author can never pose as someone else in the log.

    A later stage's answer also counts for the earlier ones not yet given
    (a final answer is a reply too). After an interim answer the final
    deadline is recounted from it when the rule says ``after: interim``.
    """
    if kind not in _ANSWER_KIND:
        raise IncidentError(f"вид ответа должен быть first_reply, interim или final, а не {kind!r}")
    if not (text or "").strip():
        raise IncidentError("текст ответа пуст")
    _require_open(incident)
    if ev.ANSWERED not in ALLOWED.get(incident.state, frozenset()):
        raise TransitionError(
            f"инцидент №{incident.id} в состоянии «{STATE_NAMES.get(incident.state, incident.state)}»: ответ записать нельзя"
        )
    profile = _profile(incident.region, profile)
    authority_id = _authority(session, profile, authority_code).id if authority_code else incident.authority_id
    reading = quality.read(text)
    held = reading.quality in quality.NOT_SUBSTANTIVE and not reading.unsure
    resp = q.add_response(session, incident_id=incident.id, authority_id=authority_id, kind=kind, text=text,
                          author=author, channel=channel, post_id=post_id, at=now, quality=reading.quality,
                          quality_confidence=round(reading.confidence, 4), quality_cues=reading.cues,
                          quality_review=reading.unsure, counted=not held)
    if held:
        # a formulaic, refusing or rude answer is kept but does not close the stage: the ЦУР head looks at it
        incident.answer_flag = reading.quality
        event = _event(session, incident, ev.ANSWER_FLAGGED, actor or author, now, authority_id=authority_id,
                       data={"response_id": resp.id, "kind": kind, "channel": channel, **reading.as_dict()})
        _notify(session, profile, event, now)
        return event
    if reading.unsure and incident.answer_flag is None:
        incident.answer_flag = "review"
    return count_answer(session, incident, resp, actor or author, now, profile, reading.as_dict())


def count_answer(
    session: Session, incident: Incident, resp: Response, actor: str, now: datetime, profile: RegionProfile,
    reading: dict[str, Any],
) -> IncidentEvent:
    """The answer ``resp`` closes its stage (and the earlier ones) at its own time ``resp.at``."""
    kind, at = resp.kind, resp.at
    if incident.first_reply_at is None:
        incident.first_reply_at = at
    if kind in ("interim", "final") and incident.interim_at is None:
        incident.interim_at = at
    if kind == "final":
        incident.final_at = at
    start = _deadline_start(incident)
    if kind in ("first_reply", "interim") and start is not None:
        _apply_deadlines(profile, incident, start)
    resp.counted = True
    event = transition(session, incident, ev.ANSWERED, actor, at, kind=_ANSWER_KIND[kind],
                       data={"response_id": resp.id, "channel": resp.channel, **reading}, authority_id=resp.authority_id)
    incident.updated_at = now
    return event


def resolve(session: Session, incident: Incident, actor: str, now: datetime, comment: str | None = None) -> IncidentEvent:
    event = transition(session, incident, ev.RESOLVED, actor, now, data={"comment": comment} if comment else None)
    incident.resolved_at = now
    return event


def reject(session: Session, incident: Incident, actor: str, now: datetime, reason: str) -> IncidentEvent:
    if not (reason or "").strip():
        raise IncidentError("укажите причину отклонения")
    return transition(session, incident, ev.REJECTED, actor, now, data={"reason": reason})


def reopen(
    session: Session, incident: Incident, actor: str, now: datetime, reason: str, profile: RegionProfile | None = None,
) -> IncidentEvent:
    """The problem came back: the final stage runs again, counted from now."""
    if not (reason or "").strip():
        raise IncidentError("укажите причину повторного открытия")
    profile = _profile(incident.region, profile)
    if ev.REOPENED not in ALLOWED.get(incident.state, frozenset()):
        transition(session, incident, ev.REOPENED, actor, now)  # raises the TransitionError
    rule = select_rule(profile.deadlines, "final", incident.urgency)
    final_due = add_rule(now, rule, profile.deadlines.working_time, profile.region.tz) if rule else None
    event = transition(session, incident, ev.REOPENED, actor, now,
                       data={"reason": reason, "due": {"final": final_due.isoformat() if final_due else None}})
    incident.resolved_at = None
    incident.final_at = None
    incident.final_due = final_due
    incident.final_due_pinned = True  # later answers do not move it back
    log = dict((incident.details or {}).get("deadline_log") or {})
    log.pop("final", None)
    _set_detail(incident, "deadline_log", log)
    _notify(session, profile, event, now)
    return event


def mark_fake(session: Session, incident: Incident, actor: str, now: datetime, comment: str | None = None,
              mark_id: int | None = None) -> IncidentEvent:
    """Flag the incident «возможный фейк»; ``mark_id``: the confirmed «возможный фейк» mark that flags it."""
    _require_open(incident)
    incident.is_possible_fake = True
    data: dict[str, Any] = {"comment": comment} if comment else {}
    if mark_id is not None:
        data["mark_id"] = mark_id
    return _event(session, incident, ev.MARKED_FAKE, actor, now, data=data)


def unmark_fake(session: Session, incident: Incident, actor: str, now: datetime, comment: str | None = None,
                mark_id: int | None = None) -> IncidentEvent:
    """Clear the «возможный фейк» flag (open or closed incident: a false flag never stays); ``mark_id``: the dismissed mark."""
    incident.is_possible_fake = False
    data: dict[str, Any] = {"comment": comment} if comment else {}
    if mark_id is not None:
        data["mark_id"] = mark_id
    return _event(session, incident, ev.UNMARKED_FAKE, actor, now, data=data)
