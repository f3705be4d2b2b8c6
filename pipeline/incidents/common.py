"""Shared pieces of the incident service: errors, the event writer, profile lookup.

Every function of ``pipeline.incidents`` works inside the caller's session (one
transaction) and takes the clock as ``now``; every change of an incident writes
an ``IncidentEvent`` with the actor and the time (vocabulary in
``storage/events.py``). See docs/incidents.md for the algorithm, thresholds and
the state machine.

Functions that need the region profile (routing, deadline rules) take it as
``profile``; where the call signature has it as an optional keyword it
defaults to the profile of the incident's region from the installed
configuration.
"""

from __future__ import annotations

import logging
from datetime import datetime
from functools import lru_cache
from typing import Any

from sqlalchemy.orm import Session

from config import RegionProfile
from pipeline.errors import Refused
from storage import incidents as q
from storage.models import Incident, IncidentEvent

SYSTEM = "system"
log = logging.getLogger(__name__)


class IncidentError(Refused):
    """A request the incident's current state does not allow (Russian message)."""


class TransitionError(IncidentError):
    pass


@lru_cache(maxsize=1)
def _installed_configuration():
    from config import load_configuration

    return load_configuration()


def _profile(incident_region: str, profile: RegionProfile | None) -> RegionProfile:
    if profile is not None:
        return profile
    cfg = _installed_configuration()
    try:
        return cfg.regions[incident_region]
    except KeyError:
        raise IncidentError(f"регион {incident_region!r} не найден в конфигурации") from None


def _set_detail(incident: Incident, key: str, value: Any) -> None:
    details = dict(incident.details or {})
    details[key] = value
    incident.details = details  # reassign: JSON columns do not track in-place changes


def _tx_cache(session: Session) -> dict[Any, Any]:
    """A dict that lives as long as the session's current (outermost) transaction: lookups repeated for every
    new incident of a processing batch (authority rows, routing decisions, due times) are done once per batch.
    Values are kept with the objects they were computed from, so callers check identity before reuse."""
    tx = session.get_transaction()
    held = session.info.get("cur_tx_cache")
    if held is None or held[0] is not tx:
        held = (tx, {})
        session.info["cur_tx_cache"] = held
    return held[1]


def _event(session: Session, incident: Incident, kind: str, actor: str, now: datetime, **kw: Any) -> IncidentEvent:
    incident.updated_at = now
    return q.add_event(session, incident, kind, actor, now, **kw)


def _notify(session: Session, profile: RegionProfile | None, event: IncidentEvent, now: datetime) -> None:
    """Hand the event to the notification outbox (``pipeline.notify``) in this transaction.

    A failure to build a notification must not lose the incident change: it
    is rolled back to a savepoint and logged, and the scheduler's
    ``notify_recent`` retries the event on its next pass.
    """
    if profile is None:
        return
    try:
        from pipeline.notify import notify_event
    except ImportError:  # notifications not installed: the scheduler's notify_recent catches up
        return
    try:
        with session.begin_nested():
            notify_event(session, profile, event, now)
    except Exception:
        log.exception("notification of event %s (%s) of incident %s failed; left to the scheduler", event.id, event.kind, event.incident_id)


def _require_open(incident: Incident) -> None:
    if incident.merged_into_id is not None:
        raise IncidentError(f"инцидент №{incident.id} объединён с №{incident.merged_into_id}: работайте с ним")
