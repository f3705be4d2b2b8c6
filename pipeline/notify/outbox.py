"""Notifications through a transactional outbox.

``enqueue`` writes an :class:`~storage.models.OutboxMessage` in the caller's
transaction (so a notification exists if and only if the change that caused
it was committed); the unique ``dedup_key`` makes enqueueing idempotent.
``deliver_due`` sends pending messages whose ``next_attempt_at`` has come,
each in three steps: claim it (a compare-and-set update that pushes
``next_attempt_at`` a lease ahead, committed at once), send it with no
database transaction open, then record the outcome in its own transaction.
A pass claims nothing once it has run for half a lease, so every claim
leaves at least half a lease (2.5 min) for a send whose channel timeout is
30 s: two live deliverers (e.g. an old and a new scheduler during a
takeover) never send the same message. The outcome is recorded only if the
claim still stands (``next_attempt_at`` is still this claim's lease end).
A crash after the send and before the record leaves the message pending; it
is sent again when the lease ends: delivery is *at least once*. Every channel carries the outbox
message id (webhook header ``X-CUR-Delivery``, e-mail header
``X-CUR-Delivery`` and ``Message-ID``) so receivers can drop repeats.

Notifications are made from incident events by a sweep that follows a
persisted cursor over the event log (``sweep_events``; see
docs/notifications.md): every notifiable event is handled once however long
the scheduler was down, including events whose transaction committed after
later ones. A message delivered more than ``RetryPolicy.late_after`` (2 h)
after its event says so («отправлено с опозданием»).

Failures back off exponentially (1, 2, 4 … minutes, capped at 1 hour); after
``max_attempts`` failed attempts (spanning more than 24 hours by default) the
message is marked ``dead``. Permanent failures (HTTP 4xx, refused address)
are dead at once. See docs/notifications.md.
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any, Iterable, Mapping

import jinja2
from sqlalchemy.orm import Session

from config import RegionProfile, Settings
from storage import events as ev
from storage import coordination as co
from storage import outbox as box
from storage import reporting as rq
from storage.db import Database
from storage.models import Authority, Incident, IncidentEvent, OutboxMessage

from .channels import ChannelError, EmailSender, Envelope, Sender, TelegramSender, WebhookSender
from pipeline.labels import ROLE_NAMES, STAGE_NAMES, STATE_NAMES

log = logging.getLogger(__name__)

PENDING, SENT, DEAD = "pending", "sent", "dead"
CHANNELS = ("email", "telegram", "webhook")
TEMPLATES = Path(__file__).resolve().parent.parent / "templates" / "notify"

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
    #: A message delivered this long after its event is marked «отправлено с опозданием».
    late_after: timedelta = timedelta(hours=2)

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
    #: Due messages not tried because their recipient just failed or the pass ran out of time (next pass).
    deferred: int = 0
    #: Messages delivered more than ``late_after`` after their event (marked as late).
    late: int = 0
    errors: list[str] = field(default_factory=list)

    def __str__(self) -> str:
        late = f" (из них с опозданием {self.late})" if self.late else ""
        return (
            f"отправлено {self.sent}{late}, отложено для повтора {self.retried}, "
            f"не доставлено окончательно {self.dead}, без настроенного канала {self.skipped}, "
            f"ждут следующего прохода {self.deferred}"
        )


def _envelope(m: OutboxMessage, now: datetime, policy: RetryPolicy) -> tuple[Envelope, bool]:
    """What is sent for ``m`` at ``now``; the flag says it is late (see ``late_note``)."""
    payload = dict(m.payload or {})
    subject, body = m.subject, m.body
    note = late_note(_event_time(m), now, policy.late_after)
    if note:
        if m.channel == "webhook":
            payload["late"] = True
            payload["delay_minutes"] = int((now - _event_time(m)).total_seconds() // 60)
        else:
            subject, body = f"[с опозданием] {subject}", f"{note}\n\n{body}"
    return Envelope(m.id, m.channel, m.recipient, subject, body, payload, m.dedup_key), note is not None


def _event_time(m: OutboxMessage) -> datetime:
    """When the thing notified about happened: the payload's ``event_at``, else when it was enqueued."""
    raw = (m.payload or {}).get("event_at")
    if raw:
        try:
            at = datetime.fromisoformat(str(raw))
            if at.tzinfo is not None:
                return at
        except ValueError:
            pass
    return m.created_at


def _delay_text(delay: timedelta) -> str:
    minutes = int(delay.total_seconds() // 60)
    days, rest = divmod(minutes, 24 * 60)
    hours, minutes = divmod(rest, 60)
    if days:
        return f"{days} дн. {hours} ч"
    return f"{hours} ч {minutes} мин"


def late_note(event_at: datetime, now: datetime, late_after: timedelta) -> str | None:
    """«Отправлено с опозданием …» when ``now`` is more than ``late_after`` after the event, else None.

    The event time is shown in the offset it carries (the region's, from the payload).
    """
    delay = now - event_at
    if delay <= late_after:
        return None
    tz = event_at.tzinfo or timezone.utc
    return (
        f"Отправлено с опозданием: событие произошло {local_time(event_at, tz)}, "
        f"уведомление задержано на {_delay_text(delay)} (перерыв в работе системы уведомлений)."
    )


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
    started = time.monotonic()
    budget = policy.lease.total_seconds() / 2
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
                if time.monotonic() - started > budget:
                    # claims are leased from ``now``: a late claim would leave too little lease for the send
                    stats.deferred += len(ids) - n
                    return
                if await _deliver_one(db, msg_id, now, senders[channel], policy, stats) == "retry":
                    stats.deferred += len(ids) - n - 1
                    return

    await asyncio.gather(*(serve(channel, ids) for (channel, _), ids in groups.items()))
    return stats


async def _deliver_one(db: Database, msg_id: int, now: datetime, sender: Sender, policy: RetryPolicy, stats: DeliveryStats) -> str:
    """Claim, send, record. Returns ``sent``, ``retry``, ``dead`` or ``skipped``."""
    lease_until = now + policy.lease
    with db.session() as s:  # short transaction: no database lock is held while sending
        m = box.claim(s, msg_id, now, lease_until)
        envelope, late, attempts = None, False, 0
        if m is not None:
            envelope, late = _envelope(m, now, policy)
            attempts = m.attempts
    if envelope is None:
        return "skipped"  # taken by another deliverer, or no longer due
    try:
        await sender.send(envelope)
    except ChannelError as e:
        failures = attempts + 1
        dead = e.permanent or failures >= policy.max_attempts
        with db.session() as s:
            box.mark_failed(s, msg_id, str(e), None if dead else now + policy.delay(failures), claimed_until=lease_until)
        stats.errors.append(f"#{msg_id} {envelope.channel} → {envelope.recipient}: {e}")
        if dead:
            stats.dead += 1
            log.warning("outbox message %s is dead after %s attempts: %s", msg_id, failures, e)
            return "dead"
        stats.retried += 1
        return "retry"
    with db.session() as s:
        if not box.mark_sent(s, msg_id, now, claimed_until=lease_until):
            log.warning("outbox message %s was sent after its claim had lapsed; another deliverer may have sent it too", msg_id)
    stats.sent += 1
    stats.late += int(late)
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
            if channel == "webhook":
                payload = incident_payload(profile, incident, event, authority)
            else:  # the event time lets delivery tell a late message (``late_note``)
                payload = {"event": event.kind, "event_at": event.at.astimezone(profile.region.tz).isoformat() if event.at else None}
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


# --------------------------------------------------------------------------- the sweep over the event log

#: Event ids read per batch (a primary-key range scan).
SWEEP_SCAN = 1000
#: Events at most rendered into messages per batch (the rest wait for the next batch).
SWEEP_RENDER = 200
#: Batches of one ``notify_pending`` call (the scheduler's pass); each is its own transaction.
SWEEP_BATCHES = 20
#: An id below the cursor still not visible after this long is taken for a rolled-back
#: transaction (or an event that keeps failing to render) and given up, with a log line.
GAP_TIMEOUT = timedelta(hours=24)


def cursor_name(region: str) -> str:
    return f"notify:{region}"


@dataclass
class SweepResult:
    """What one or more sweep batches did."""

    #: Outbox messages created.
    enqueued: int = 0
    #: Notifiable events rendered (those with no outbox message yet).
    events: int = 0
    #: Event ids looked at (every kind and region).
    scanned: int = 0
    #: The cursor reached the newest visible event.
    caught_up: bool = True
    last_id: int = 0
    #: Ids below the cursor still waited for.
    waiting: int = 0

    def add(self, other: "SweepResult") -> None:
        self.enqueued += other.enqueued
        self.events += other.events
        self.scanned += other.scanned
        self.caught_up, self.last_id, self.waiting = other.caught_up, other.last_id, other.waiting


def _split(gap: list[Any], found: set[int]) -> list[list[Any]]:
    """The parts of the gap ``[lo, hi, seen]`` not covered by ``found`` ids."""
    lo, hi, seen = int(gap[0]), int(gap[1]), gap[2]
    out: list[list[Any]] = []
    start = lo
    for i in sorted(x for x in found if lo <= x <= hi):
        if i > start:
            out.append([start, i - 1, seen])
        start = i + 1
    if start <= hi:
        out.append([start, hi, seen])
    return out


def _missing(after: int, upto: int, seen_ids: list[int], stamp: str) -> list[list[Any]]:
    """Ranges of ids in ``(after, upto]`` absent from the ascending ``seen_ids``."""
    out: list[list[Any]] = []
    prev = after
    for i in seen_ids:
        if i > upto:
            break
        if i > prev + 1:
            out.append([prev + 1, i - 1, stamp])
        prev = i
    return out


def _notified_event_ids(session: Session, events: list[IncidentEvent]) -> set[int]:
    """Events with an outbox message: all of an event's messages are written in one transaction."""
    keys = box.dedup_keys_of_incidents(session, (e.incident_id for e in events), "ev:")
    return {int(k.split(":")[1]) for k in keys if k.split(":")[1].isdigit()}


def sweep_events(
    session: Session, profile: RegionProfile, now: datetime, scan: int = SWEEP_SCAN, render: int = SWEEP_RENDER
) -> SweepResult:
    """One batch of the notification sweep, in the caller's transaction.

    Locks the region's cursor (``event_cursors``, ``notify:<region>``), looks
    again at the ids it is waiting for (gaps), reads up to ``scan`` event ids
    after it, enqueues the notifications of the notifiable events of the
    region that have no outbox message yet (at most ``render`` of them), and
    moves the cursor — all in one transaction, so a crash before the commit
    leaves both the outbox and the cursor as they were.

    An id missing below the newest id read is a *gap*: on PostgreSQL a
    transaction that took its id earlier may still be open and commit later
    (ids and ``at`` are assigned before the commit). Gaps are checked on
    every batch until their event appears (and is notified) or for
    ``GAP_TIMEOUT`` (then it was a rolled-back id). An event whose
    notification fails to build is kept as a gap too and retried.
    """
    result = SweepResult()
    state = co.lock_cursor(session, cursor_name(profile.code), now)
    stamp = now.isoformat()

    found = rq.event_ids_in_ranges(session, [(int(g[0]), int(g[1])) for g in state.gaps]) if state.gaps else []
    ids = rq.event_ids_after(session, state.last_id, scan)
    result.scanned = len(ids) + len(found)
    candidates = {e.id: e for e in rq.events_by_ids(session, profile.code, WEBHOOK_KINDS, [*found, *ids])}
    done = _notified_event_ids(session, list(candidates.values()))
    failed: dict[int, str] = {}  # event id -> when it was first waited for

    def handle(event_id: int, seen: str) -> bool:
        """Notify one event; False if it failed (kept as a gap)."""
        event = candidates.get(event_id)
        if event is None or event_id in done:
            return True
        try:
            with session.begin_nested():
                made = notify_event(session, profile, event, now)
        except Exception:  # noqa: BLE001
            log.exception("notification of event %s (%s) of incident %s failed; retried on the next pass", event.id, event.kind, event.incident_id)
            failed[event_id] = seen
            return False
        result.events += 1
        result.enqueued += len(made)
        return True

    # the ids waited for first: they are the oldest
    gaps_left: list[list[Any]] = []
    found_set = set(found)
    for gap in state.gaps:
        for i in sorted(x for x in found_set if int(gap[0]) <= x <= int(gap[1])):
            handle(i, gap[2])
        gaps_left += _split(gap, found_set)

    upto = state.last_id
    rendered = 0
    for event_id in ids:
        needs = event_id in candidates and event_id not in done
        if needs and rendered >= render:
            result.caught_up = False
            break
        if needs:
            rendered += 1
            handle(event_id, stamp)
        upto = event_id
    else:
        result.caught_up = len(ids) < scan

    gaps = gaps_left + _missing(state.last_id, upto, ids, stamp) + [[i, i, seen] for i, seen in failed.items()]
    kept: list[list[Any]] = []
    for gap in sorted(gaps, key=lambda g: int(g[0])):
        if now - datetime.fromisoformat(str(gap[2])) > GAP_TIMEOUT:
            log.warning("event ids %s–%s did not appear (or could not be notified) for %s: given up", gap[0], gap[1], GAP_TIMEOUT)
            continue
        kept.append(gap)
    state.last_id, state.gaps = upto, kept
    co.save_cursor(session, state, now)
    result.last_id = upto
    result.waiting = sum(int(g[1]) - int(g[0]) + 1 for g in kept)
    return result


def notify_pending(db: Database, profile: RegionProfile, now: datetime, batches: int = SWEEP_BATCHES, **kw: Any) -> SweepResult:
    """The scheduler's sweep: batches of ``sweep_events``, each committed on its own, until caught up.

    At most ``batches`` batches per call, so a backlog of years is worked off
    over several passes without one long transaction.
    """
    total = SweepResult()
    for _ in range(max(1, batches)):
        with db.session() as s:
            part = sweep_events(s, profile, now, **kw)
        total.add(part)
        if part.caught_up:
            break
    if total.events:
        log.info("notification sweep: %s events, %s messages enqueued (cursor at event %s)", total.events, total.enqueued, total.last_id)
    return total


def notify_recent(session: Session, profile: RegionProfile, now: datetime, batches: int = SWEEP_BATCHES) -> int:
    """The sweep in the caller's transaction (``cur notify deliver``); returns the messages enqueued.

    Kept under its old name for callers; it no longer looks at a time window
    but follows the persisted cursor like ``notify_pending``.
    """
    total = SweepResult()
    for _ in range(max(1, batches)):
        part = sweep_events(session, profile, now)
        total.add(part)
        if part.caught_up:
            break
    return total.enqueued
