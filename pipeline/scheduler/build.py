"""Building and running the scheduler of ``cur run`` (APScheduler 3).

Jobs live in an ``SQLAlchemyJobStore`` on the project database (table
``apscheduler_jobs``), so their next run times survive a restart; every job
has ``max_instances=1`` (a run still going when the next is due is skipped,
never doubled) and ``coalesce=True`` (runs missed while the process was down
collapse into one).
"""

from __future__ import annotations

import logging
import signal
import threading
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, Callable

from apscheduler.executors.pool import ThreadPoolExecutor
from apscheduler.jobstores.sqlalchemy import SQLAlchemyJobStore
from apscheduler.schedulers.base import BaseScheduler
from apscheduler.util import undefined

from ..context import App
from .jobs import (
    Clock,
    Runtime,
    SystemClock,
    job_alerts,
    job_deadlines,
    job_deliver,
    job_monthly_report,
    job_process,
    job_sync_sources,
    set_runtime,
    stored_ref,
)
from .lease import LEASE_RENEW, LEASE_TTL, Lease, LeasedScheduler

log = logging.getLogger(__name__)

JOB_DEFAULTS = {"max_instances": 1, "coalesce": True, "misfire_grace_time": 300}
PROCESS_MINUTES = 2
SOURCES_MINUTES = 5
ALERTS_MINUTES = 15


def _add_jobs(sched: BaseScheduler, db: Any, served: list[Any] | None = None) -> None:
    """Add the jobs of ``cur run`` (replacing those of the same id in the job store).

    A job already in the store keeps its due time, so a run missed while no
    scheduler was up is made up at start within the job's misfire grace
    (e.g. the monthly report when the scheduler comes back on the 1st after
    06:00) instead of moving to the next period.
    """
    due = _stored_next_run_times(sched, db)
    sched.add_job(stored_ref(job_process), "interval", minutes=PROCESS_MINUTES, id="process", name="обработка новых постов", replace_existing=True,
                  next_run_time=due.get("process", undefined))  # fmt: skip
    sched.add_job(stored_ref(job_deadlines), "interval", minutes=1, id="deadlines", name="проверка сроков", replace_existing=True,
                  next_run_time=due.get("deadlines", undefined))  # fmt: skip
    sched.add_job(stored_ref(job_deliver), "interval", minutes=1, id="deliver", name="отправка уведомлений", replace_existing=True,
                  next_run_time=due.get("deliver", undefined))  # fmt: skip
    sched.add_job(stored_ref(job_alerts), "interval", minutes=ALERTS_MINUTES, id="alerts", name="возникающие проблемы",
                  replace_existing=True, next_run_time=due.get("alerts", undefined))  # fmt: skip
    sched.add_job(stored_ref(job_sync_sources), "interval", minutes=SOURCES_MINUTES, id="sources", name="список источников", replace_existing=True,
                  next_run_time=due.get("sources", undefined))  # fmt: skip
    sched.add_job(
        stored_ref(job_monthly_report), "cron", day=1, hour=6, minute=0, id="monthly_report", name="ежемесячный отчёт",
        replace_existing=True, misfire_grace_time=24 * 3600, next_run_time=due.get("monthly_report", undefined),
    )  # fmt: skip
    for profile in (served or [])[1:]:  # every other region served: its report at 06:00 of its own time zone
        job_id = f"monthly_report:{profile.code}"
        sched.add_job(
            stored_ref(job_monthly_report), "cron", day=1, hour=6, minute=0, timezone=profile.region.tz, args=[profile.code],
            id=job_id, name=f"ежемесячный отчёт: {profile.region.short_name}", replace_existing=True,
            misfire_grace_time=24 * 3600, next_run_time=due.get(job_id, undefined),
        )  # fmt: skip


def _stored_next_run_times(sched: BaseScheduler, db: Any) -> dict[str, datetime]:
    """Next run times of the jobs in the project database's job store (empty if it cannot be read)."""
    store = SQLAlchemyJobStore(engine=db.engine, tablename="apscheduler_jobs")
    try:
        store.start(sched, "default")
        return {job.id: job.next_run_time for job in store.get_all_jobs() if job.next_run_time is not None}
    except Exception as e:  # noqa: BLE001  (a job of code that no longer exists, a damaged row)
        log.warning("stored job times could not be read (%s): jobs start on their schedule from now", e)
        return {}


def build_scheduler(
    app: App,
    clock: Clock | None = None,
    *,
    scheduler_cls: type[BaseScheduler] = LeasedScheduler,
    senders: dict[str, Any] | None = None,
    report_dir: Path | None = None,
    workers: int = 4,
    lease_ttl: timedelta = LEASE_TTL,
    lease_renew: timedelta = LEASE_RENEW,
) -> BaseScheduler:
    """A configured, not yet started scheduler with every job of ``cur run``.

    The web app can call this and ``start()`` the result next to its server.
    With the default ``LeasedScheduler`` the jobs run only in the process
    holding the database's scheduler lease.
    """
    db = app.ready_db()
    rt = set_runtime(Runtime(app, clock or SystemClock(), senders, report_dir or Path("reports")))
    options: dict[str, Any] = {}
    if issubclass(scheduler_cls, LeasedScheduler):
        rt.lease = Lease(db, lease_ttl, lease_renew, tz=app.region.region.tz)
        options["lease"] = rt.lease
    sched = scheduler_cls(
        jobstores={"default": SQLAlchemyJobStore(engine=db.engine, tablename="apscheduler_jobs")},
        executors={"default": ThreadPoolExecutor(workers)},
        job_defaults=JOB_DEFAULTS,
        timezone=app.region.region.tz,
        **options,
    )
    rt.scheduler = sched
    if isinstance(sched, LeasedScheduler):
        sched.setup = lambda s: _add_jobs(s, db, app.served)  # when this process becomes the active scheduler
        sched.on_takeover = job_sync_sources
    else:
        _add_jobs(sched, db, app.served)
    # crawl jobs are added once the scheduler runs (job_sync_sources needs the job store open)
    return sched


def run_forever(
    app: App,
    clock: Clock | None = None,
    on_started: Callable[[BaseScheduler], None] | None = None,
    report_dir: Path | None = None,
    lease_ttl: timedelta = LEASE_TTL,
    lease_renew: timedelta = LEASE_RENEW,
) -> None:
    """Start the scheduler and block until SIGINT or SIGTERM, then shut down cleanly (releasing the lease)."""
    stop = threading.Event()

    def _stop(signum, _frame):
        log.info("signal %s: stopping", signum)
        stop.set()

    old = {sig: signal.signal(sig, _stop) for sig in (signal.SIGINT, signal.SIGTERM)}
    sched = build_scheduler(app, clock, report_dir=report_dir, lease_ttl=lease_ttl, lease_renew=lease_renew)
    try:
        sched.start()
        job_sync_sources()  # does nothing while standing by
        if on_started:
            on_started(sched)
        while not stop.wait(1.0):
            pass
    finally:
        if sched.running:
            sched.shutdown(wait=True)  # running jobs finish; nothing new starts; the lease is released
        for sig, handler in old.items():
            signal.signal(sig, handler)
