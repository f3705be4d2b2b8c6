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
A message delivered more than ``RetryPolicy.late_after`` (2 h) after its
event says so («отправлено с опозданием»).

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
from typing import Any, Mapping

from sqlalchemy.orm import Session

from config import Settings
from storage import outbox as box
from storage.db import Database
from storage.models import OutboxMessage

from ..timefmt import local_time
from .channels import ChannelError, EmailSender, Envelope, Sender, TelegramSender, WebhookSender

log = logging.getLogger(__name__)

PENDING, SENT, DEAD = "pending", "sent", "dead"
CHANNELS = ("email", "telegram", "webhook")


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


def enqueue_many(session: Session, messages: list[dict[str, Any]], now: datetime) -> int:
    """``enqueue`` of several messages (``enqueue``'s keyword arguments but ``session`` and ``now``) in one
    multi-row insert, for events written in the caller's transaction (no other message can have their
    dedup keys yet, so there is no lookup; a key that exists all the same keeps its message). Returns the
    number of messages."""
    rows = []
    for m in messages:
        if m["channel"] not in CHANNELS:
            raise ValueError(f"unknown channel {m['channel']!r}; known: {', '.join(CHANNELS)}")
        if not m["recipient"]:
            raise ValueError("empty recipient")
        rows.append(dict(channel=m["channel"], recipient=m["recipient"], subject=m["subject"][:512], body=m["body"],
                         payload=m["payload"] or {}, dedup_key=m["dedup_key"][:255], incident_id=m.get("incident_id"),
                         status=PENDING, attempts=0, next_attempt_at=now, created_at=now))
    box.insert_messages(session, rows)
    return len(rows)


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
