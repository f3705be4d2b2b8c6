"""A person's reading of an official answer (docs/incidents.md «Качество ответов»).

The classifier's reading of every answer is stored on its ``Response``
(``lifecycle.record_response``). A formulaic, refusing or rude answer does not close its
stage and flags the incident (``incident.answer_flag``) for the ЦУР head; an unsure reading
counts meanwhile and flags the incident for review. ``review_answer`` records a person's
reading: the event ``answer_reviewed`` names the answer, the old and the new reading. An
answer held back and now read *substantive* closes its stage at its own time (the answer
event is written with the answer's time, so the ratings see it as given then). An answer that
already counted keeps its stage closed whatever the new reading; the quality term of the
rating uses the new reading (docs/ratings.md).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.orm import Session

from config import RegionProfile
from nlp import answers as quality
from storage import events as ev
from storage import incidents as q
from storage.models import Incident, IncidentEvent

from .common import IncidentError, _event, _profile, _require_open
from .lifecycle import ALLOWED, count_answer


def review_answer(
    session: Session, incident: Incident, response_id: int, reading: str, actor: str, now: datetime,
    profile: RegionProfile | None = None,
) -> IncidentEvent:
    if reading not in quality.QUALITIES:
        raise IncidentError(f"оценка ответа должна быть одной из: {', '.join(quality.QUALITY_NAMES.values())}")
    resp = next((r for r in q.responses_of(session, incident.id) if r.id == response_id), None)
    if resp is None:
        raise IncidentError(f"у инцидента №{incident.id} нет ответа №{response_id}")
    _require_open(incident)
    profile = _profile(incident.region, profile)
    before = resp.quality
    resp.quality, resp.quality_review, resp.quality_reviewed_by = reading, False, actor
    will_count = reading == quality.SUBSTANTIVE and not resp.counted and ev.ANSWERED in ALLOWED.get(incident.state, frozenset())
    event = _event(session, incident, ev.ANSWER_REVIEWED, actor, now, authority_id=resp.authority_id,
                   data={"response_id": resp.id, "from": before, "to": reading, "counted": resp.counted or will_count})
    if will_count:
        count_answer(session, incident, resp, actor, now, profile,
                     {"quality": reading, "confidence": 1.0, "unsure": False, "cues": resp.quality_cues or [], "reviewed": True})
    if not any(r.quality_review or (not r.counted and r.quality in quality.NOT_SUBSTANTIVE and not r.quality_reviewed_by)
               for r in q.responses_of(session, incident.id)):
        incident.answer_flag = None
    return event
