"""SQL of health and status: last job runs (``job_runs``) and the backlogs `cur status` and ``/healthz`` report."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select, text, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from .models import Incident, JobRun, OutboxMessage, Post, Source


def ping(session: Session) -> None:
    """One round trip (raises if the database is away)."""
    session.execute(text("SELECT 1"))


# --------------------------------------------------------------------------- job runs


def job_started(session: Session, name: str, at: datetime, host: str, pid: int) -> None:
    values = dict(started_at=at, finished_at=None, ok=None, message=None, host=host, pid=pid)
    res = session.execute(update(JobRun).where(JobRun.name == name).values(**values).execution_options(synchronize_session=False))
    if res.rowcount == 1:  # type: ignore[attr-defined]  # a DML statement's result is a CursorResult
        return
    try:
        with session.begin_nested():
            session.add(JobRun(name=name, **values))
            session.flush()
    except IntegrityError:  # written by a concurrent run meanwhile
        session.execute(update(JobRun).where(JobRun.name == name).values(**values).execution_options(synchronize_session=False))


def job_finished(session: Session, name: str, at: datetime, ok: bool, message: str | None) -> None:
    session.execute(
        update(JobRun).where(JobRun.name == name).values(finished_at=at, ok=ok, message=(message or None) and message[:2000])
        .execution_options(synchronize_session=False)
    )


def job_runs(session: Session) -> list[JobRun]:
    return list(session.scalars(select(JobRun).order_by(JobRun.name)))


# --------------------------------------------------------------------------- backlogs


@dataclass(frozen=True)
class SourceLag:
    id: int
    platform: str
    kind: str
    key: str
    interval_minutes: int
    created_at: datetime
    last_success_at: datetime | None
    last_error_at: datetime | None
    failing_reason: str | None
    retry_after: datetime | None
    #: the source's region (None: the default one)
    region: str | None = None


def source_lags(session: Session) -> list[SourceLag]:
    """Every enabled source with the time of its last successful crawl."""
    rows = session.execute(
        select(Source.id, Source.platform, Source.kind, Source.key, Source.interval_minutes, Source.created_at,
               Source.last_success_at, Source.last_error_at, Source.failing_reason, Source.retry_after, Source.region)
        .where(Source.enabled.is_(True)).order_by(Source.id)
    )  # fmt: skip
    return [SourceLag(*r) for r in rows]


def processing_backlog(session: Session) -> tuple[int, datetime | None]:
    """Posts waiting for processing and when the oldest of them was collected."""
    n, oldest = session.execute(
        select(func.count(), func.min(Post.collected_at)).where(Post.processed_at.is_(None), Post.is_deleted.is_(False))
    ).one()
    return int(n or 0), oldest


def outbox_backlog(session: Session, now: datetime) -> tuple[int, int, datetime | None, int]:
    """Outbox: pending messages, those already due, the due time of the oldest due one, dead ones."""
    pending, due, oldest = session.execute(
        select(func.count(), func.count().filter(OutboxMessage.next_attempt_at <= now),
               func.min(OutboxMessage.next_attempt_at).filter(OutboxMessage.next_attempt_at <= now))
        .where(OutboxMessage.status == "pending")
    ).one()  # fmt: skip
    dead = session.scalar(select(func.count()).where(OutboxMessage.status == "dead"))
    return int(pending or 0), int(due or 0), oldest, int(dead or 0)


def processing_backlog_by_region(session: Session) -> dict[str | None, tuple[int, datetime | None]]:
    """Posts waiting for processing per region (the post's, else its source's; None: the default region) and when the
    oldest of them was collected."""
    region = func.coalesce(Post.region, Source.region)
    rows = session.execute(
        select(region, func.count(), func.min(Post.collected_at)).select_from(Post)
        .outerjoin(Source, Source.id == Post.source_id)
        .where(Post.processed_at.is_(None), Post.is_deleted.is_(False)).group_by(region)
    )  # fmt: skip
    return {r: (int(n or 0), oldest) for r, n, oldest in rows}


def outbox_backlog_by_region(session: Session, now: datetime) -> dict[str | None, tuple[int, int, datetime | None]]:
    """Pending notifications per region of their incident (None: no incident), those already due, the oldest due time."""
    rows = session.execute(
        select(Incident.region, func.count(), func.count().filter(OutboxMessage.next_attempt_at <= now),
               func.min(OutboxMessage.next_attempt_at).filter(OutboxMessage.next_attempt_at <= now))
        .select_from(OutboxMessage).outerjoin(Incident, Incident.id == OutboxMessage.incident_id)
        .where(OutboxMessage.status == "pending").group_by(Incident.region)
    )  # fmt: skip
    return {r: (int(p or 0), int(d or 0), oldest) for r, p, d, oldest in rows}
