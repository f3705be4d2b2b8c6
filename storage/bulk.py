"""Multi-row writes of the processing pass: new incidents, their assignments and events, joined incidents'
heads (``pipeline.incidents.index``). Everything runs in the caller's transaction."""

from __future__ import annotations

from typing import Any, Sequence

from sqlalchemy import insert, update
from sqlalchemy.orm import Session

from .models import Assignment, Incident, IncidentEvent

__all__ = ["insert_incident", "insert_assignments", "insert_events_returning_ids", "update_incidents"]


def insert_incident(session: Session, values: dict[str, Any]) -> int:
    """Insert one incident row (no ORM object); its id."""
    return int(session.execute(insert(Incident).values(**values).returning(Incident.id)).scalar_one())


def insert_assignments(session: Session, rows: Sequence[dict[str, Any]]) -> None:
    if rows:
        session.execute(insert(Assignment), list(rows))


def insert_events_returning_ids(session: Session, rows: Sequence[dict[str, Any]]) -> list[int]:
    """Write incident events in one multi-row insert, in the given order (ids follow it); their ids in that order."""
    if not rows:
        return []
    stmt = insert(IncidentEvent).returning(IncidentEvent.id, sort_by_parameter_order=True)
    return [int(i) for i in session.scalars(stmt, list(rows))]


def update_incidents(session: Session, rows: Sequence[dict[str, Any]]) -> None:
    """Update incidents by primary key (each row: ``id`` and the columns to set, the same columns in every row)."""
    if rows:
        session.execute(update(Incident), list(rows))
