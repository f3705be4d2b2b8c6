"""SQL of the notification outbox (``outbox`` table)."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Iterable, cast

from sqlalchemy import Table, func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from .models import OutboxMessage


def find_by_dedup_key(session: Session, key: str) -> OutboxMessage | None:
    return session.scalar(select(OutboxMessage).where(OutboxMessage.dedup_key == key))


def add_message(session: Session, **fields: Any) -> tuple[OutboxMessage, bool]:
    """Insert unless a message with the same ``dedup_key`` exists; returns ``(message, created)``.

    The insert runs in a savepoint, so a concurrent insert of the same key
    loses quietly without spoiling the caller's transaction.
    """
    key = fields["dedup_key"]
    existing = find_by_dedup_key(session, key)
    if existing is not None:
        return existing, False
    msg = OutboxMessage(**fields)
    try:
        with session.begin_nested():
            session.add(msg)
            session.flush()
    except IntegrityError:
        existing = find_by_dedup_key(session, key)
        if existing is None:
            raise
        return existing, False
    return msg, True


def insert_messages(session: Session, rows: list[dict[str, Any]]) -> None:
    """Insert messages in one multi-row statement; a row whose ``dedup_key`` exists is skipped."""
    if not rows:
        return
    if session.get_bind().dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert
    else:
        from sqlalchemy.dialects.sqlite import insert  # type: ignore[assignment]
    session.execute(insert(cast(Table, OutboxMessage.__table__)).on_conflict_do_nothing(index_elements=["dedup_key"]), rows)


def due_messages(session: Session, now: datetime, limit: int | None = None) -> list[tuple[int, str, str]]:
    """``(id, channel, recipient)`` of pending messages due at ``now``, oldest due first."""
    q = (
        select(OutboxMessage.id, OutboxMessage.channel, OutboxMessage.recipient)
        .where(OutboxMessage.status == "pending", OutboxMessage.next_attempt_at <= now)
        .order_by(OutboxMessage.next_attempt_at, OutboxMessage.id)
    )
    if limit:
        q = q.limit(limit)
    return [(i, c, r) for i, c, r in session.execute(q)]


def claim(session: Session, message_id: int, now: datetime, lease_until: datetime) -> OutboxMessage | None:
    """Take a due pending message for sending: move its ``next_attempt_at`` to ``lease_until``.

    A compare-and-set ``UPDATE … WHERE status = 'pending' AND next_attempt_at <= now``:
    of two deliverers only one gets the row (PostgreSQL re-checks the
    condition after waiting for the row lock; SQLite has one writer at a
    time). If the claimant dies before recording the outcome, the message is
    due again when the lease ends. ``lease_until`` doubles as the claim's
    token: ``mark_sent``/``mark_failed`` given it change the row only while
    ``next_attempt_at`` still equals it.
    """
    res = session.execute(
        update(OutboxMessage)
        .where(OutboxMessage.id == message_id, OutboxMessage.status == "pending", OutboxMessage.next_attempt_at <= now)
        .values(next_attempt_at=lease_until)
        .execution_options(synchronize_session=False)
    )
    if res.rowcount != 1:  # type: ignore[attr-defined]  # a DML statement's result is a CursorResult
        return None
    return session.get(OutboxMessage, message_id, populate_existing=True)


def _claimed(message_id: int, claimed_until: datetime | None) -> list[Any]:
    conds: list[Any] = [OutboxMessage.id == message_id]
    if claimed_until is not None:
        # the claim still stands: nobody re-claimed the message after our lease lapsed, nobody recorded it
        conds += [OutboxMessage.status == "pending", OutboxMessage.next_attempt_at == claimed_until]
    return conds


def mark_sent(session: Session, message_id: int, at: datetime, claimed_until: datetime | None = None) -> bool:
    """Record a delivery; with ``claimed_until`` only while that claim stands. True if recorded."""
    res = session.execute(
        update(OutboxMessage)
        .where(*_claimed(message_id, claimed_until))
        .values(status="sent", sent_at=at, attempts=OutboxMessage.attempts + 1, last_error=None)
        .execution_options(synchronize_session=False)
    )
    return res.rowcount == 1  # type: ignore[attr-defined]  # a DML statement's result is a CursorResult


def mark_failed(session: Session, message_id: int, error: str, retry_at: datetime | None, claimed_until: datetime | None = None) -> bool:
    """Record a failed attempt: due again at ``retry_at``, or ``dead`` when it is None.

    With ``claimed_until`` only while that claim stands. True if recorded.
    """
    values: dict[str, Any] = {"attempts": OutboxMessage.attempts + 1, "last_error": error[:2000]}
    if retry_at is None:
        values["status"] = "dead"
    else:
        values["next_attempt_at"] = retry_at
    res = session.execute(
        update(OutboxMessage).where(*_claimed(message_id, claimed_until)).values(**values).execution_options(synchronize_session=False)
    )
    return res.rowcount == 1  # type: ignore[attr-defined]  # a DML statement's result is a CursorResult


def dedup_keys_of_incidents(session: Session, incident_ids: Iterable[int], prefix: str) -> set[str]:
    ids = list(set(incident_ids))
    if not ids:
        return set()
    q = select(OutboxMessage.dedup_key).where(OutboxMessage.incident_id.in_(ids), OutboxMessage.dedup_key.like(prefix + "%"))
    return set(session.scalars(q))


def count_by_status(session: Session) -> dict[str, int]:
    return {s: n for s, n in session.execute(select(OutboxMessage.status, func.count(OutboxMessage.id)).group_by(OutboxMessage.status))}


def latest(session: Session, status: str, limit: int = 20) -> list[OutboxMessage]:
    q = select(OutboxMessage).where(OutboxMessage.status == status).order_by(OutboxMessage.id.desc()).limit(limit)
    return list(session.scalars(q))
