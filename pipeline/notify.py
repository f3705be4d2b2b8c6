"""Notifications through a transactional outbox.

``enqueue`` writes an :class:`~storage.models.OutboxMessage` in the caller's
transaction (so a notification exists if and only if the change that caused
it was committed); the unique ``dedup_key`` makes enqueueing idempotent.
``deliver_due`` sends pending messages whose ``next_attempt_at`` has come,
each in three steps: claim it (a compare-and-set update that pushes
``next_attempt_at`` a lease ahead, committed at once), send it with no
database transaction open, then record the outcome in its own transaction.
A crash after the send and before the record leaves the message pending; it
is sent again when the lease ends: delivery is *at least once*. Every channel carries the outbox
message id (webhook header ``X-CUR-Delivery``, e-mail header
``X-CUR-Delivery`` and ``Message-ID``) so receivers can drop repeats.

Failures back off exponentially (1, 2, 4 … minutes, capped at 1 hour); after
``max_attempts`` failed attempts (spanning more than 24 hours by default) the
message is marked ``dead``. Permanent failures (HTTP 4xx, refused address)
are dead at once. See docs/notifications.md.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any, Iterable, Mapping

import jinja2
from sqlalchemy.orm import Session

from config import RegionProfile, Settings
from storage import events as ev
from storage import outbox as box
from storage import reporting as rq
from storage.db import Database
from storage.models import Authority, Incident, IncidentEvent, OutboxMessage

from .channels import ChannelError, EmailSender, Envelope, Sender, TelegramSender, WebhookSender
from pipeline.labels import ROLE_NAMES, STAGE_NAMES, STATE_NAMES

log = logging.getLogger(__name__)

PENDING, SENT, DEAD = "pending", "sent", "dead"
CHANNELS = ("email", "telegram", "webhook")
TEMPLATES = Path(__file__).resolve().parent / "templates" / "notify"

# --------------------------------------------------------------------------- retry policy


@dataclass(frozen=True)
class RetryPolicy:
    """Exponential backoff: ``base * 2**(n-1)`` minutes after the n-th failure, capped."""

    base_minutes: float = 1
    max_delay_minutes: float = 60
    #: Failed attempts after which the message is dead. 32 attempts span
    #: 1+2+4+8+16+32 + 25*60 minutes ≈ 26 hours.
    max_attempts: int = 32
    #: A claimed message is due again after this if its sender never reported
    #: back (the process died mid-send). Longer than any channel's timeout.
    lease: timedelta = timedelta(minutes=5)

    def delay(self, failures: int) -> timedelta:
        minutes = min(self.base_minutes * 2 ** max(failures - 1, 0), self.max_delay_minutes)
        return timedelta(minutes=minutes)

    def span(self) -> timedelta:
        """Time from the first attempt to the last one before giving up."""
        return sum((self.delay(n) for n in range(1, self.max_attempts)), timedelta())


# --------------------------------------------------------------------------- enqueue


def enqueue(
    session: Session,
    channel: str,
    recipient: str,
    subject: str,
    body: str,
    payload: dict[str, Any] | None,
    dedup_key: str,
    incident_id: int | None = None,
    now: datetime | None = None,
) -> tuple[OutboxMessage, bool]:
    """Write a message to the outbox unless one with ``dedup_key`` exists.

    Returns ``(message, created)``. Runs in the caller's transaction; a
    concurrent insert of the same key is caught in a savepoint.
    """
    if channel not in CHANNELS:
        raise ValueError(f"unknown channel {channel!r}; known: {', '.join(CHANNELS)}")
    if not recipient:
        raise ValueError("empty recipient")
    now = now or datetime.now(timezone.utc)
    return box.add_message(
        session,
        channel=channel,
        recipient=recipient,
        subject=subject[:512],
        body=body,
        payload=payload or {},
        dedup_key=dedup_key[:255],
        incident_id=incident_id,
        status=PENDING,
        attempts=0,
        next_attempt_at=now,
        created_at=now,
    )


# --------------------------------------------------------------------------- delivery


@dataclass
class DeliveryStats:
    sent: int = 0
    retried: int = 0
    dead: int = 0
    #: Due messages of a channel with no configured sender (left pending).
    skipped: int = 0
    #: Due messages not tried because their recipient just failed (next pass).
    deferred: int = 0
    errors: list[str] = field(default_factory=list)

    def __str__(self) -> str:
        return (
            f"отправлено {self.sent}, отложено для повтора {self.retried}, "
            f"не доставлено окончательно {self.dead}, без настроенного канала {self.skipped}, "
            f"ждут следующего прохода {self.deferred}"
        )


def _envelope(m: OutboxMessage) -> Envelope:
    return Envelope(m.id, m.channel, m.recipient, m.subject, m.body, dict(m.payload or {}), m.dedup_key)


async def adeliver_due(
    db: Database,
    now: datetime,
    senders: Mapping[str, Sender],
    policy: RetryPolicy = RetryPolicy(),
    limit: int | None = None,
    concurrency: int = 8,
) -> DeliveryStats:
    """One outbox pass (async). See the module docstring for the guarantees.

    Messages are grouped by (channel, recipient): each recipient's messages
    go one after another, oldest first, and up to ``concurrency`` recipients
    are served at once. After a temporary failure the rest of that
    recipient's messages wait for the next pass, so a receiver that is down
    costs one timeout per pass, not one per message, and never holds up the others.
    """
    stats = DeliveryStats()
    with db.session() as s:
        due = box.due_messages(s, now, limit)
    groups: dict[tuple[str, str], list[int]] = {}
    for msg_id, channel, recipient in due:
        if channel not in senders:
            stats.skipped += 1
            continue
        groups.setdefault((channel, recipient), []).append(msg_id)
    gate = asyncio.Semaphore(max(1, concurrency))

    async def serve(channel: str, ids: list[int]) -> None:
        async with gate:
            for n, msg_id in enumerate(ids):
                if await _deliver_one(db, msg_id, now, senders[channel], policy, stats) == "retry":
                    stats.deferred += len(ids) - n - 1
                    return

    await asyncio.gather(*(serve(channel, ids) for (channel, _), ids in groups.items()))
    return stats


async def _deliver_one(db: Database, msg_id: int, now: datetime, sender: Sender, policy: RetryPolicy, stats: DeliveryStats) -> str:
    """Claim, send, record. Returns ``sent``, ``retry``, ``dead`` or ``skipped``."""
    with db.session() as s:  # short transaction: no database lock is held while sending
        m = box.claim(s, msg_id, now, now + policy.lease)
        envelope, attempts = (_envelope(m), m.attempts) if m is not None else (None, 0)
    if envelope is None:
        return "skipped"  # taken by another deliverer, or no longer due
    try:
        await sender.send(envelope)
    except ChannelError as e:
        failures = attempts + 1
        dead = e.permanent or failures >= policy.max_attempts
        with db.session() as s:
            box.mark_failed(s, msg_id, str(e), None if dead else now + policy.delay(failures))
        stats.errors.append(f"#{msg_id} {envelope.channel} → {envelope.recipient}: {e}")
        if dead:
            stats.dead += 1
            log.warning("outbox message %s is dead after %s attempts: %s", msg_id, failures, e)
            return "dead"
        stats.retried += 1
        return "retry"
    with db.session() as s:
        box.mark_sent(s, msg_id, now)
    stats.sent += 1
    return "sent"


def deliver_due(
    db: Database,
    now: datetime,
    senders: Mapping[str, Sender],
    policy: RetryPolicy = RetryPolicy(),
    limit: int | None = None,
) -> DeliveryStats:
    """One outbox pass from synchronous code (the scheduler, the CLI)."""
    return asyncio.run(adeliver_due(db, now, senders, policy, limit))


def senders_from_settings(settings: Settings) -> dict[str, Sender]:
    """The channels the settings configure: e-mail always, Telegram with a bot token, webhooks with a secret."""
    out: dict[str, Sender] = {
        "email": EmailSender(
            settings.smtp_host,
            settings.smtp_port,
            settings.smtp_from,
            settings.smtp_user,
            settings.smtp_password,
        )
    }
    if settings.telegram_bot_token:
        out["telegram"] = TelegramSender(settings.telegram_bot_token, settings.telegram_bot_api_url)
    if settings.webhook_secret:
        out["webhook"] = WebhookSender(settings.webhook_secret)
    return out


# --------------------------------------------------------------------------- texts

URGENCY_NAMES = {"high": "срочный", "normal": "обычный"}

_env = jinja2.Environment(
    loader=jinja2.FileSystemLoader(str(TEMPLATES)),
    autoescape=False,
    undefined=jinja2.StrictUndefined,
    keep_trailing_newline=False,
    trim_blocks=True,
    lstrip_blocks=True,
)


def local_time(value: datetime | str | None, tz) -> str:  # noqa: ANN001
    """``25.12.2026 14:00 (UTC+07:00)`` in the region's time zone."""
    if value is None:
        return "—"
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    local = value.astimezone(tz)
    off = local.strftime("%z")
    return f"{local:%d.%m.%Y %H:%M} (UTC{off[:3]}:{off[3:]})"


def render(template: str, **ctx: Any) -> tuple[str, str]:
    """Render ``templates/notify/<template>.txt``; the first line is the subject."""
    text = _env.get_template(f"{template}.txt").render(**ctx).strip()
    subject, _, body = text.partition("\n")
    return subject.strip(), body.strip() + "\n"


# --------------------------------------------------------------------------- building notifications

#: Event kinds that notify people by e-mail / Telegram; webhooks get every kind below.
PERSONAL_KINDS = {ev.ROUTED_EV, ev.REROUTED, ev.REMINDER, ev.ESCALATED, ev.REOPENED_EV}
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
    """Who receives an escalation to ``role``.

    ``specialist`` — the authority the incident is assigned to; ``sector_head``
    — the head of the incident's sector block; any other role — the region's
    first authority with that role.
    """
    if role == "specialist":
        return session.get(Authority, incident.authority_id) if incident.authority_id else None
    if role == "sector_head":
        block = profile.block_for_sector(incident.sector or "")
        if block is not None:
            return _authority_by_code(session, profile.code, block.head)
    for a in profile.region.authorities:
        if a.role.value == role:
            return _authority_by_code(session, profile.code, a.code)
    return None


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
    if incident.authority_id:
        a = session.get(Authority, incident.authority_id)
        return [a] if a else []
    return []


def _context(session: Session, profile: RegionProfile, incident: Incident, event: IncidentEvent, authority: Authority) -> dict[str, Any]:
    tz = profile.region.tz
    links, post_count = rq.post_links(session, incident.id)
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
        "stage": STAGE_NAMES.get(stage, stage or ""),
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
}

TEMPLATE_OF = {
    ev.ROUTED_EV: "routed",
    ev.REROUTED: "routed",
    ev.REMINDER: "reminder",
    ev.ESCALATED: "escalated",
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
        subject, body = render(TEMPLATE_OF.get(event.kind, "status"), **ctx)
        targets: list[tuple[str, str | None]] = [("webhook", authority.webhook_url)]
        if event.kind in PERSONAL_KINDS:
            targets += [("email", authority.email), ("telegram", authority.telegram_chat_id)]
        for channel, recipient in targets:
            if not recipient:
                continue
            payload = incident_payload(profile, incident, event, authority) if channel == "webhook" else {"event": event.kind}
            if channel == "webhook":
                payload["subject"], payload["text"] = subject, body
            msg, created = enqueue(
                session,
                channel,
                recipient,
                subject,
                body,
                payload,
                dedup_key=f"ev:{event.id}:{channel}:{authority.code}",
                incident_id=incident.id,
                now=now,
            )
            if created:
                out.append(msg)
    return out


def notify_events(session: Session, profile: RegionProfile, events: Iterable[IncidentEvent], now: datetime) -> int:
    return sum(len(notify_event(session, profile, e, now)) for e in events)


def notify_recent(session: Session, profile: RegionProfile, now: datetime, window: timedelta = timedelta(days=2)) -> int:
    """Enqueue notifications for every notifiable event of the last ``window``.

    The scheduler calls this after each deadline check and processing pass;
    the dedup keys make repeated calls harmless, so no cursor is needed and
    an event written by any part of the system (CLI, web, API) is notified.
    """
    rows = rq.recent_events(session, profile.code, WEBHOOK_KINDS, now - window, now)
    if not rows:
        return 0
    # events with any outbox message were handled whole (one transaction): skip them cheaply
    done = {key.split(":")[1] for key in box.dedup_keys_of_incidents(session, (e.incident_id for e in rows), "ev:")}
    return notify_events(session, profile, [e for e in rows if str(e.id) not in done], now)
