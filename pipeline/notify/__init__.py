"""Notifications through a transactional outbox, one module per job.

* ``outbox``   — enqueue a message in the caller's transaction; deliver due messages
  (claim, send, record), retries and backoff, the configured senders;
* ``messages`` — who an incident event concerns and what they are told (texts, webhook payloads);
* ``sweep``    — the sweep over the event log that turns events into messages (persisted cursor);
* ``channels`` — e-mail, Telegram bot and signed webhook senders.

See docs/notifications.md. Import the public names from ``pipeline.notify``.
"""

from ..timefmt import local_time
from .messages import (
    KIND_NAMES,
    PERSONAL_KINDS,
    TEMPLATE_OF,
    TEMPLATES,
    URGENCY_NAMES,
    WEBHOOK_KINDS,
    incident_payload,
    notify_event,
    recipients_for,
    render,
    role_authority,
)
from .outbox import (
    CHANNELS,
    DEAD,
    PENDING,
    SENT,
    DeliveryStats,
    RetryPolicy,
    adeliver_due,
    deliver_due,
    enqueue,
    late_note,
    senders_from_settings,
)
from .sweep import (
    GAP_TIMEOUT,
    SWEEP_BATCHES,
    SWEEP_RENDER,
    SWEEP_SCAN,
    SweepResult,
    cursor_name,
    notify_pending,
    notify_recent,
    sweep_events,
)

__all__ = [
    "CHANNELS",
    "DEAD",
    "DeliveryStats",
    "GAP_TIMEOUT",
    "KIND_NAMES",
    "PENDING",
    "PERSONAL_KINDS",
    "RetryPolicy",
    "SENT",
    "SWEEP_BATCHES",
    "SWEEP_RENDER",
    "SWEEP_SCAN",
    "SweepResult",
    "TEMPLATES",
    "TEMPLATE_OF",
    "URGENCY_NAMES",
    "WEBHOOK_KINDS",
    "adeliver_due",
    "cursor_name",
    "deliver_due",
    "enqueue",
    "incident_payload",
    "late_note",
    "local_time",
    "notify_event",
    "notify_pending",
    "notify_recent",
    "recipients_for",
    "render",
    "role_authority",
    "senders_from_settings",
    "sweep_events",
]
