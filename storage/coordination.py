"""SQL that coordinates background work on one database: sweep cursors and the scheduler lease.

* ``event_cursors`` — how far a sweep over ``incident_events`` has come
  (``lock_cursor`` / ``save_cursor``). ``lock_cursor`` starts by writing the
  row, so on PostgreSQL a second sweeper waits on the row lock and on SQLite
  the transaction holds the write lock from its first statement (no
  read-then-write upgrade that could fail with «database is locked»).
* ``scheduler_leases`` — one holder at a time, taken with compare-and-set
  updates (``acquire_lease`` takes or renews it, ``release_lease``,
  ``take_over_lease`` from a holder known to be dead). The scheduler holds
  ``scheduler``; a processing pass holds ``process:<region>``. Times are
  the caller's; the scheduler passes the system clock, so hosts sharing a
  PostgreSQL database need synchronised clocks (NTP), which the lease length
  (a minute by default) tolerates by seconds.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import or_, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from .models import EventCursor, SchedulerLease

# --------------------------------------------------------------------------- event cursors


@dataclass
class CursorState:
    name: str
    last_id: int
    #: ``[lo, hi, first seen ISO time]`` ranges of ids below ``last_id`` not seen yet.
    gaps: list[list[Any]]


def lock_cursor(session: Session, name: str, now: datetime, initial_last_id: int = 0) -> CursorState:
    """The cursor ``name``, locked for this transaction (created at ``initial_last_id`` if missing)."""
    for _ in range(2):
        res = session.execute(
            update(EventCursor).where(EventCursor.name == name).values(updated_at=now).execution_options(synchronize_session=False)
        )
        if res.rowcount == 1:  # type: ignore[attr-defined]  # a DML statement's result is a CursorResult
            row = session.get(EventCursor, name, populate_existing=True)
            assert row is not None
            return CursorState(name, int(row.last_id), [list(g) for g in (row.gaps or [])])
        try:
            with session.begin_nested():
                session.add(EventCursor(name=name, last_id=initial_last_id, gaps=[], updated_at=now))
                session.flush()
        except IntegrityError:
            pass  # created by a concurrent sweeper: lock it on the next round
    raise RuntimeError(f"event cursor {name!r} could not be locked")


def save_cursor(session: Session, state: CursorState, now: datetime) -> None:
    session.execute(
        update(EventCursor)
        .where(EventCursor.name == state.name)
        .values(last_id=state.last_id, gaps=state.gaps, updated_at=now)
        .execution_options(synchronize_session=False)
    )


def get_cursor(session: Session, name: str) -> CursorState | None:
    row = session.get(EventCursor, name)
    return CursorState(name, int(row.last_id), [list(g) for g in (row.gaps or [])]) if row else None


# --------------------------------------------------------------------------- scheduler lease


@dataclass(frozen=True)
class LeaseInfo:
    name: str
    holder: str | None
    host: str | None
    pid: int | None
    acquired_at: datetime | None
    renewed_at: datetime | None
    expires_at: datetime | None

    def held_at(self, now: datetime) -> bool:
        """Someone holds it and it has not expired."""
        return self.holder is not None and self.expires_at is not None and self.expires_at > now


def _info(row: SchedulerLease) -> LeaseInfo:
    return LeaseInfo(row.name, row.holder, row.host, row.pid, row.acquired_at, row.renewed_at, row.expires_at)


def get_lease(session: Session, name: str) -> LeaseInfo | None:
    row = session.get(SchedulerLease, name, populate_existing=True)
    return _info(row) if row else None


def acquire_lease(session: Session, name: str, holder: str, host: str, pid: int, now: datetime, ttl: timedelta) -> tuple[bool, LeaseInfo]:
    """Take the lease if it is free, expired or already ours; returns ``(ours, current state)``.

    One compare-and-set ``UPDATE … WHERE holder IS NULL OR holder = me OR
    expires_at <= now``: of two processes racing for an expired lease only one
    matches the row (PostgreSQL re-checks the condition after the row lock;
    SQLite has one writer at a time).
    """
    fresh = {"holder": holder, "host": host, "pid": pid, "acquired_at": now, "renewed_at": now, "expires_at": now + ttl}
    took = session.execute(  # type: ignore[attr-defined]  # a DML statement's result is a CursorResult
        update(SchedulerLease)
        .where(
            SchedulerLease.name == name,
            SchedulerLease.holder == holder,
        )
        .values(renewed_at=now, expires_at=now + ttl)
        .execution_options(synchronize_session=False)
    ).rowcount
    if took != 1:
        took = session.execute(  # type: ignore[attr-defined]  # a DML statement's result is a CursorResult
            update(SchedulerLease)
            .where(SchedulerLease.name == name, or_(SchedulerLease.holder.is_(None), SchedulerLease.expires_at <= now))
            .values(**fresh)
            .execution_options(synchronize_session=False)
        ).rowcount
    if took != 1 and session.get(SchedulerLease, name) is None:
        try:
            with session.begin_nested():
                session.add(SchedulerLease(name=name, **fresh))
                session.flush()
            took = 1
        except IntegrityError:
            took = 0  # another process created it first
    info = get_lease(session, name)
    assert info is not None
    return took == 1 and info.holder == holder, info


def held_leases(session: Session, prefix: str, now: datetime) -> list[LeaseInfo]:
    """The leases whose names start with ``prefix`` held at ``now``."""
    from sqlalchemy import select

    rows = session.scalars(select(SchedulerLease).where(SchedulerLease.name.startswith(prefix, autoescape=True),
                                                        SchedulerLease.holder.is_not(None), SchedulerLease.expires_at > now))
    return [_info(r) for r in rows]


def release_lease(session: Session, name: str, holder: str, now: datetime) -> bool:
    """Give the lease up (clean shutdown); host, pid and times stay as the last holder's."""
    res = session.execute(
        update(SchedulerLease)
        .where(SchedulerLease.name == name, SchedulerLease.holder == holder)
        .values(holder=None, expires_at=now)
        .execution_options(synchronize_session=False)
    )
    return res.rowcount == 1  # type: ignore[attr-defined]  # a DML statement's result is a CursorResult


def take_over_lease(session: Session, name: str, old_holder: str, holder: str, host: str, pid: int, now: datetime,
                    ttl: timedelta) -> bool:
    """Take the lease from ``old_holder`` (whom the caller knows to be dead), if it still holds it."""
    res = session.execute(
        update(SchedulerLease)
        .where(SchedulerLease.name == name, SchedulerLease.holder == old_holder)
        .values(holder=holder, host=host, pid=pid, acquired_at=now, renewed_at=now, expires_at=now + ttl)
        .execution_options(synchronize_session=False)
    )
    return res.rowcount == 1  # type: ignore[attr-defined]  # a DML statement's result is a CursorResult
