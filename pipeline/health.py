"""Health of a deployment: ``/healthz`` (is the service usable) and ``cur status`` (is the work keeping up).

* :func:`health` — the database answers and its schema is at the code's
  migration head. Plain JSON-able data with no URL, host or secret in it: the
  web serves it without login to load balancers and monitoring.
* :func:`status` — the figures an operator looks at: the lag of every enabled
  source's crawl, the processing backlog, the outbox backlog, the active
  scheduler and the last run of every job (``job_runs``, written by
  :func:`job_run` around every job of ``cur run`` and every worker task). A
  figure past its limit is a *problem* (``cur status`` exits non-zero);
  dead notifications and sources waiting out a rate limit are only *notes*.
"""

from __future__ import annotations

import logging
import os
import socket
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any, Iterator

from storage import coordination as co
from storage import health as h

from .context import App
from .timefmt import local

log = logging.getLogger(__name__)

#: A source is late when its last successful crawl is older than this many intervals (plus ``SOURCE_GRACE``).
SOURCE_INTERVALS = 3
SOURCE_GRACE = timedelta(minutes=10)
#: Processing is late when the oldest waiting post was collected longer ago than this.
PROCESSING_LAG = timedelta(minutes=30)
#: Deliveries are late when a message has been due for longer than this.
OUTBOX_LAG = timedelta(minutes=15)
SCHEDULER_LEASE = "scheduler"


# --------------------------------------------------------------------------- /healthz


def health(app: App) -> tuple[bool, dict[str, Any]]:
    """``(healthy, body)`` for ``/healthz``: the database reachable, migrations current. Never raises."""
    from storage.db import head_revision

    body: dict[str, Any] = {"status": "ok", "database": "ok", "migrations": "ok"}
    try:
        db = app.db
        head = head_revision(db.url)
        with db.session() as s:
            h.ping(s)
        current = db.current_revision()
    except Exception as e:  # noqa: BLE001  (any failure of the database is the answer, not an error of the check)
        log.warning("health check: database unreachable (%s)", type(e).__name__)
        body.update(status="error", database="unreachable", migrations="unknown")
        return False, body
    body["revision"] = {"current": current, "head": head}
    if current != head:
        body.update(status="error", migrations="outdated" if current else "missing")
        return False, body
    return True, body


# --------------------------------------------------------------------------- job runs


@contextmanager
def job_run(db: Any, name: str, clock: Any = None) -> Iterator[None]:
    """Record the start and the end (success or the error) of one job run in ``job_runs``.

    A failure to record is logged and never stops the job itself.
    """
    now = clock or (lambda: datetime.now(timezone.utc))
    try:
        with db.session() as s:
            h.job_started(s, name, now(), socket.gethostname(), os.getpid())
    except Exception as e:  # noqa: BLE001
        log.warning("job run %s not recorded (%s)", name, e)
    ok, message = True, None
    try:
        yield
    except BaseException as e:
        ok, message = False, f"{type(e).__name__}: {e}"
        raise
    finally:
        try:
            with db.session() as s:
                h.job_finished(s, name, now(), ok, message)
        except Exception as e:  # noqa: BLE001
            log.warning("end of job run %s not recorded (%s)", name, e)


# --------------------------------------------------------------------------- cur status


@dataclass
class Status:
    """What ``cur status`` prints: Russian lines by section, the problems and the notes."""

    lines: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    figures: dict[str, Any] = field(default_factory=dict)

    @property
    def healthy(self) -> bool:
        return not self.problems


def _ago(now: datetime, at: datetime | None) -> str:
    if at is None:
        return "никогда"
    secs = max(0, int((now - at).total_seconds()))
    if secs < 120:
        return f"{secs} с назад"
    if secs < 7200:
        return f"{secs // 60} мин назад"
    if secs < 3 * 86400:
        return f"{secs // 3600} ч {secs % 3600 // 60} мин назад"
    return f"{secs // 86400} дн назад"


def status(app: App, now: datetime, queues: dict[str, int] | None = None) -> Status:
    """The state of crawls, processing, deliveries and the scheduler at ``now`` (see the module docstring).

    ``queues`` are the broker's queue depths by name when workers are used (shown as they are).
    """
    db = app.ready_db()
    tz = app.region.region.tz
    st = Status()
    with db.session() as s:
        sources = h.source_lags(s)
        backlog, oldest_post = h.processing_backlog(s)
        pending, due, oldest_due, dead = h.outbox_backlog(s, now)
        lease = co.get_lease(s, SCHEDULER_LEASE)
        runs = h.job_runs(s)

    st.lines.append("Сбор (включённые источники):")
    if not sources:
        st.lines.append("  источников нет (добавьте: cur sources add ССЫЛКА)")
    late = 0
    for src in sources:
        since = src.last_success_at or src.created_at
        limit = timedelta(minutes=SOURCE_INTERVALS * max(1, src.interval_minutes)) + SOURCE_GRACE
        lag = now - since
        name = f"№{src.id} {src.platform}/{src.kind} {src.key}"
        state = "успешный обход " + _ago(now, src.last_success_at)
        if src.failing_reason:
            st.problems.append(f"источник {name} не обходится: {src.failing_reason}")
            state += f"; ошибка: {src.failing_reason}"
        elif src.retry_after is not None and src.retry_after > now:
            st.notes.append(f"источник {name} ждёт до {local(src.retry_after, tz)} (ограничение платформы)")
            state += f"; ждёт до {local(src.retry_after, tz)}"
        elif lag > limit:
            late += 1
            st.problems.append(f"источник {name} отстаёт: последний успешный обход {_ago(now, src.last_success_at)}, "
                               f"интервал {src.interval_minutes} мин")  # fmt: skip
            state += " — ОТСТАЁТ"
        st.lines.append(f"  {name}: {state} (интервал {src.interval_minutes} мин)")
    st.figures["sources"] = len(sources)
    st.figures["sources_late"] = late

    st.lines.append("Обработка:")
    if backlog:
        st.lines.append(f"  ждут обработки постов: {backlog}; самый старый собран {_ago(now, oldest_post)}")
        if oldest_post is not None and now - oldest_post > PROCESSING_LAG:
            st.problems.append(f"обработка отстаёт: {backlog} постов ждут, самый старый собран {_ago(now, oldest_post)}")
    else:
        st.lines.append("  все собранные посты обработаны")
    st.figures["processing_backlog"] = backlog
    st.figures["processing_oldest"] = oldest_post.isoformat() if oldest_post else None

    st.lines.append("Уведомления:")
    st.lines.append(f"  ждут отправки: {pending}, из них срок уже наступил: {due}; не доставлено: {dead}")
    if oldest_due is not None and now - oldest_due > OUTBOX_LAG:
        st.problems.append(f"отправка уведомлений отстаёт: {due} ждут, самое давнее — с {local(oldest_due, tz)}")
    if dead:
        st.notes.append(f"не доставлено уведомлений: {dead} (подробности: cur notify status)")
    st.figures.update(outbox_pending=pending, outbox_due=due, outbox_dead=dead)

    st.lines.append("Планировщик:")
    if lease is None:
        st.lines.append("  ни разу не запускался на этой базе данных (cur run)")
        st.problems.append("планировщик не запущен: запустите cur run")
    elif lease.held_at(now):
        st.lines.append(f"  активен: хост {lease.host}, pid {lease.pid}, с {local(lease.acquired_at, tz)}, аренда продлена {_ago(now, lease.renewed_at)}")
    else:
        st.lines.append(f"  не работает (последний: хост {lease.host}, pid {lease.pid}, аренда продлена {_ago(now, lease.renewed_at)})")
        st.problems.append("планировщик не работает: запустите cur run")
    st.figures["scheduler_active"] = bool(lease and lease.held_at(now))
    for run in runs:
        if run.finished_at is None:
            state = f"идёт с {local(run.started_at, tz)} ({run.host}, pid {run.pid})"
        elif run.ok:
            state = f"успешно {_ago(now, run.finished_at)}"
        else:
            state = f"ОШИБКА {_ago(now, run.finished_at)}: {run.message}"
            st.problems.append(f"последний запуск задания {run.name} завершился ошибкой: {run.message}")
        st.lines.append(f"  {run.name}: {state}")

    if app.many_regions:
        _per_region(app, st, now, sources)

    if queues is not None:
        st.lines.append("Очереди обработчиков (RabbitMQ):")
        for q, n in sorted(queues.items()):
            st.lines.append(f"  {q}: сообщений {n}")
        st.figures["queues"] = dict(queues)
    return st


def _per_region(app: App, st: Status, now: datetime, sources: list[h.SourceLag]) -> None:
    """«По регионам»: each served region's crawl lag, processing backlog and outbox backlog (``figures["regions"]``);
    a region whose processing is late is named in the problems."""
    default = app.region.code
    with app.ready_db().session() as s:
        backlog = {(r or default): v for r, v in h.processing_backlog_by_region(s).items()}
        outbox = h.outbox_backlog_by_region(s, now)
    st.lines.append("По регионам:")
    regions: dict[str, Any] = {}
    for p in app.served:
        own = [src for src in sources if (src.region or default) == p.code]
        late = [src for src in own if not src.failing_reason and now - (src.last_success_at or src.created_at)
                > timedelta(minutes=SOURCE_INTERVALS * max(1, src.interval_minutes)) + SOURCE_GRACE]
        failing = [src for src in own if src.failing_reason]
        n, oldest = backlog.get(p.code, (0, None))
        pending, due, oldest_due = outbox.get(p.code, (0, 0, None))
        newest = max((src.last_success_at for src in own if src.last_success_at), default=None)
        st.lines.append(
            f"  {p.region.name} ({p.code}, {p.region.tz}): источников {len(own)}, отстают {len(late)}, с ошибкой {len(failing)}, "
            f"последний успешный обход {_ago(now, newest)}; ждут обработки {n}"
            + (f" (самый старый собран {_ago(now, oldest)})" if n else "")
            + f"; уведомлений ждут {pending}, срок наступил {due}"
        )  # fmt: skip
        if n and oldest is not None and now - oldest > PROCESSING_LAG:
            st.problems.append(f"обработка отстаёт в регионе {p.region.name}: {n} постов ждут, самый старый собран {_ago(now, oldest)}")
        regions[p.code] = {"sources": len(own), "sources_late": len(late), "sources_failing": len(failing),
                           "last_crawl": newest.isoformat() if newest else None, "processing_backlog": n,
                           "processing_oldest": oldest.isoformat() if oldest else None, "outbox_pending": pending,
                           "outbox_due": due, "outbox_oldest_due": oldest_due.isoformat() if oldest_due else None}
    waiting = sum(n for r, (n, _) in backlog.items() if r not in regions)
    if waiting:
        st.notes.append(f"постов регионов, которые не обслуживаются, ждут: {waiting} (настройка regions)")
    st.figures["regions"] = regions
