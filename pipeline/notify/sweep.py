"""The sweep: notifications are made from incident events by following a persisted cursor over the event log.

``sweep_events`` (one batch, in the caller's transaction) and ``notify_pending``
(the scheduler's pass): every notifiable event is handled once however long
the scheduler was down, including events whose transaction committed after
later ones. See docs/notifications.md.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.orm import Session

from config import RegionProfile
from storage import coordination as co
from storage import outbox as box
from storage import reporting as rq
from storage.db import Database
from storage.models import IncidentEvent

from . import messages
from .messages import WEBHOOK_KINDS

log = logging.getLogger(__name__)


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
                made = messages.notify_event(session, profile, event, now)
        except Exception:
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
