"""What a notification says and to whom: recipients of an incident event, texts, webhook payloads.

``notify_event`` turns one incident event into outbox messages (in the caller's
transaction, idempotent per event). Texts are Jinja templates in
``pipeline/templates/notify/``; the first line is the subject.
"""

from __future__ import annotations

from datetime import datetime
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy.orm import Session

from config import RegionProfile
from nlp.answers import CUE_NAMES, QUALITY_NAMES
from pipeline.labels import ROLE_NAMES, STAGE_NAMES, STATE_NAMES
from storage import events as ev
from storage import reporting as rq
from storage.models import Authority, Incident, IncidentEvent, OutboxMessage

from ..routing import escalation_authority
from ..timefmt import local_time
from .outbox import enqueue

if TYPE_CHECKING:
    import jinja2

TEMPLATES = Path(__file__).resolve().parent.parent / "templates" / "notify"

URGENCY_NAMES = {"high": "срочный", "normal": "обычный"}

@cache
def _env() -> jinja2.Environment:
    """The templates' environment, made with the first message (jinja2 loads then, not with every command)."""
    import jinja2

    return jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(TEMPLATES)),
        autoescape=False,
        undefined=jinja2.StrictUndefined,
        keep_trailing_newline=False,
        trim_blocks=True,
        lstrip_blocks=True,
    )


def render(template: str, **ctx: Any) -> tuple[str, str]:
    """Render ``templates/notify/<template>.txt``; the first line is the subject."""
    text = _env().get_template(f"{template}.txt").render(**ctx).strip()
    subject, _, body = text.partition("\n")
    return subject.strip(), body.strip() + "\n"


# --------------------------------------------------------------------------- building notifications

#: Event kinds that notify people by e-mail / Telegram; webhooks get every kind below.
PERSONAL_KINDS = {ev.ROUTED_EV, ev.REROUTED, ev.REMINDER, ev.ESCALATED, ev.REOPENED_EV, ev.ANSWER_FLAGGED}
WEBHOOK_KINDS = PERSONAL_KINDS | {
    ev.ACKNOWLEDGED_EV,
    ev.ANSWER_FIRST,
    ev.ANSWER_INTERIM,
    ev.ANSWER_FINAL,
    ev.RESOLVED_EV,
    ev.REJECTED_EV,
    ev.MERGED_INTO,
    ev.RECLASSIFIED,
}


def _authority_by_code(session: Session, region: str, code: str | None) -> Authority | None:
    return rq.authority_by_code(session, region, code) if code else None


def role_authority(session: Session, profile: RegionProfile, incident: Incident, role: str) -> Authority | None:
    """Who receives an escalation to ``role`` when its event does not name the recipient
    (decided by ``pipeline.routing.escalation_authority``)."""
    if role == "specialist":
        return session.get(Authority, incident.authority_id) if incident.authority_id else None
    return _authority_by_code(session, profile.code, escalation_authority(profile, role, incident.sector, None))


def recipients_for(session: Session, profile: RegionProfile, incident: Incident, event: IncidentEvent) -> list[Authority]:
    """The authorities an event concerns (see docs/notifications.md)."""
    data = event.data or {}
    if event.kind == ev.ESCALATED:
        explicit = _authority_by_code(session, profile.code, data.get("recipient") or data.get("authority_code"))
        found = explicit or role_authority(session, profile, incident, str(data.get("role", "")))
        return [found] if found else []
    if event.kind in (ev.ROUTED_EV, ev.REROUTED) and event.authority_id:
        a = session.get(Authority, event.authority_id)
        return [a] if a else []
    if event.kind == ev.ANSWER_FLAGGED:  # the ЦУР head sees formulaic, refusing and rude answers
        head = role_authority(session, profile, incident, "head")
        return [head] if head else []
    if incident.authority_id:
        a = session.get(Authority, incident.authority_id)
        return [a] if a else []
    return []


def _context(session: Session, profile: RegionProfile, incident: Incident, event: IncidentEvent, authority: Authority) -> dict[str, Any]:
    links, post_count = rq.post_links(session, incident.id)
    return {**context_of(profile, incident, event, authority, links, post_count), **_answer_context(session, event)}


def context_of(profile: RegionProfile, incident: Incident, event: IncidentEvent, authority: Authority,
               links: list[str], post_count: int) -> dict[str, Any]:
    """The template context of an event from what the caller knows: ``links`` (URLs of the incident's earliest
    posts, at most 5) and ``post_count``, as ``storage.reporting.post_links`` reads them."""
    tz = profile.region.tz
    sector = profile.sector(incident.sector or "")
    category = sector.category(incident.category or "") if sector else None
    muni = profile.region.municipality(incident.municipality or "")
    data = event.data or {}
    stage = data.get("stage")
    due = {
        "first_reply": incident.first_reply_due,
        "interim": incident.interim_due,
        "final": incident.final_due,
    }
    return {
        "incident": incident,
        "event": event,
        "data": data,
        "authority": authority,
        "region": profile.region,
        "sector": sector.name if sector else (incident.sector or "не определено"),
        "category": category.name if category else (incident.category or "—"),
        "municipality": muni.name if muni else (incident.municipality or "не определён"),
        "urgency": URGENCY_NAMES.get(incident.urgency, incident.urgency),
        "state": STATE_NAMES.get(incident.state, incident.state),
        "from_state": STATE_NAMES.get(event.from_state or "", event.from_state or "—"),
        "to_state": STATE_NAMES.get(event.to_state or "", event.to_state or "—"),
        "stage": STAGE_NAMES.get(stage or "", stage or ""),
        "stage_due": local_time(due.get(stage), tz) if stage else "—",
        "role": ROLE_NAMES.get(data.get("role", ""), data.get("role", "")),
        "level": data.get("level"),
        "first_reply_due": local_time(incident.first_reply_due, tz),
        "interim_due": local_time(incident.interim_due, tz),
        "final_due": local_time(incident.final_due, tz),
        "at": local_time(event.at, tz),
        "kind_name": KIND_NAMES.get(event.kind, event.kind),
        "links": links,
        "post_count": post_count,
    }


def _answer_context(session: Session, event: IncidentEvent) -> dict[str, Any]:
    if event.kind != ev.ANSWER_FLAGGED:
        return {}
    data = event.data or {}
    resp = rq.response_by_id(session, int(data.get("response_id") or 0))
    text = (resp.text if resp else "") or ""
    return {
        "quality_name": QUALITY_NAMES.get(str(data.get("quality")), "не по существу"),
        "answer_stage": STAGE_NAMES.get(str(data.get("kind")), "первичный ответ"),
        "answer_text": text if len(text) <= 500 else text[:500] + "…",
        "answer_author": resp.author if resp else None,
        "cue_names": ", ".join(CUE_NAMES[c] for c in data.get("cues") or [] if c in CUE_NAMES),
    }


KIND_NAMES = {
    ev.ACKNOWLEDGED_EV: "принят в работу",
    ev.ANSWER_FIRST: "дан первичный ответ",
    ev.ANSWER_INTERIM: "дан промежуточный ответ",
    ev.ANSWER_FINAL: "дан окончательный ответ",
    ev.RESOLVED_EV: "решён",
    ev.REJECTED_EV: "отклонён",
    ev.REOPENED_EV: "открыт повторно",
    ev.MERGED_INTO: "объединён с другим инцидентом",
    ev.RECLASSIFIED: "изменена классификация",
    ev.ANSWER_FLAGGED: "ответ не по существу",
}

TEMPLATE_OF = {
    ev.ROUTED_EV: "routed",
    ev.REROUTED: "routed",
    ev.REMINDER: "reminder",
    ev.ESCALATED: "escalated",
    ev.ANSWER_FLAGGED: "answer_flagged",
}


def incident_payload(profile: RegionProfile, incident: Incident, event: IncidentEvent, authority: Authority) -> dict[str, Any]:
    """Machine-readable webhook payload (times in ISO 8601 with the region's offset)."""
    tz = profile.region.tz

    def iso(v: datetime | None) -> str | None:
        return v.astimezone(tz).isoformat() if v else None

    return {
        "event": event.kind,
        "event_id": event.id,
        "event_at": iso(event.at),
        "event_data": event.data or {},
        "region": profile.code,
        "authority": {"code": authority.code, "name": authority.name},
        "incident": {
            "id": incident.id,
            "title": incident.title,
            "sector": incident.sector,
            "category": incident.category,
            "municipality": incident.municipality,
            "urgency": incident.urgency,
            "state": incident.state,
            "first_reply_due": iso(incident.first_reply_due),
            "interim_due": iso(incident.interim_due),
            "final_due": iso(incident.final_due),
        },
    }


def notify_event(session: Session, profile: RegionProfile, event: IncidentEvent, now: datetime) -> list[OutboxMessage]:
    """Enqueue the notifications an incident event calls for; idempotent per event.

    Dedup keys are ``ev:<event id>:<channel>:<authority code>``, so calling this
    again for the same event (every scheduler pass does) enqueues nothing new.
    """
    if event.kind not in WEBHOOK_KINDS:
        return []
    if event.id is None:
        session.flush()  # the dedup key needs the event's id
    incident = session.get(Incident, event.incident_id)
    if incident is None:
        return []
    out: list[OutboxMessage] = []
    for authority in recipients_for(session, profile, incident, event):
        ctx = _context(session, profile, incident, event, authority)
        for fields in message_fields(profile, incident, event, authority, ctx):
            msg, created = enqueue(session, now=now, **fields)
            if created:
                out.append(msg)
    return out


def message_fields(profile: RegionProfile, incident: Incident, event: IncidentEvent, authority: Authority,
                   ctx: dict[str, Any]) -> list[dict[str, Any]]:
    """The messages of one event to one authority (``enqueue``'s arguments but ``session`` and ``now``), rendered
    with the template context ``ctx``."""
    subject, body = render(TEMPLATE_OF.get(event.kind, "status"), **ctx)
    targets: list[tuple[str, str | None]] = [("webhook", authority.webhook_url)]
    if event.kind in PERSONAL_KINDS:
        targets += [("email", authority.email), ("telegram", authority.telegram_chat_id)]
    out: list[dict[str, Any]] = []
    for channel, recipient in targets:
        if not recipient:
            continue
        if channel == "webhook":
            payload = incident_payload(profile, incident, event, authority)
        else:  # the event time lets delivery tell a late message (``late_note``)
            payload = {"event": event.kind, "event_at": event.at.astimezone(profile.region.tz).isoformat() if event.at else None}
        if channel == "webhook":
            payload["subject"], payload["text"] = subject, body
        out.append(dict(channel=channel, recipient=recipient, subject=subject, body=body, payload=payload,
                        dedup_key=f"ev:{event.id}:{channel}:{authority.code}", incident_id=incident.id))
    return out
