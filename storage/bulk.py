"""Multi-row writes of the processing pass: new incidents, their assignments and events, joined incidents'
heads (``pipeline.incidents.index``). Everything runs in the caller's transaction."""

from __future__ import annotations

from typing import Any, Sequence, cast

from sqlalchemy import Table, bindparam, insert, update
from sqlalchemy.orm import Session

from .models import Assignment, Incident, IncidentEvent

__all__ = ["insert_incident", "insert_assignments", "insert_events_returning_ids", "update_incidents"]


# Statements on the tables, not the mapped classes: a list of rows is one executemany with the column
# defaults applied, without the ORM's per-row bookkeeping.
_INCIDENTS = cast(Table, Incident.__table__)
_EVENTS = cast(Table, IncidentEvent.__table__)
_ASSIGNMENTS = cast(Table, Assignment.__table__)
_NEW_INCIDENT = insert(_INCIDENTS).returning(_INCIDENTS.c.id)
_NEW_EVENTS = insert(_EVENTS).returning(_EVENTS.c.id, sort_by_parameter_order=True)


def insert_incident(session: Session, values: dict[str, Any]) -> int:
    """Insert one incident row (no ORM object); its id."""
    return int(session.execute(_NEW_INCIDENT, values).scalar_one())


def insert_assignments(session: Session, rows: Sequence[dict[str, Any]]) -> None:
    if rows:
        session.execute(insert(_ASSIGNMENTS), list(rows))


def insert_events_returning_ids(session: Session, rows: Sequence[dict[str, Any]]) -> list[int]:
    """Write incident events in one multi-row insert, in the given order (ids follow it); their ids in that order."""
    if not rows:
        return []
    return [int(i) for i in session.execute(_NEW_EVENTS, list(rows)).scalars()]


def update_incidents(session: Session, rows: Sequence[dict[str, Any]]) -> None:
    """Update incidents by primary key: each row has ``id`` and the columns to set (the same in every row)."""
    if not rows:
        return
    columns = [k for k in rows[0] if k != "id"]
    stmt = (update(_INCIDENTS).where(_INCIDENTS.c.id == bindparam("row_id"))
            .values({c: bindparam(f"row_{c}") for c in columns}))
    session.execute(stmt, [{f"row_{k}": v for k, v in r.items()} for r in rows])
