"""The scheduler behind ``cur run`` (APScheduler 3).

Jobs live in an ``SQLAlchemyJobStore`` on the project database (table
``apscheduler_jobs``), so their next run times survive a restart; every job
has ``max_instances=1`` (a run still going when the next is due is skipped,
never doubled) and ``coalesce=True`` (runs missed while the process was down
collapse into one).

Jobs (docs/scheduler.md):

* ``crawl:<source id>`` — crawl one enabled source every ``interval_minutes``;
* ``sources`` — every 5 minutes, add/remove/retime crawl jobs as sources change;
* ``process`` — classify new posts, make and route incidents (``pipeline.process``);
* ``deadlines`` — every minute: ``pipeline.incidents.check_deadlines`` then the
  notification sweep over the event log (``pipeline.notify.notify_pending``);
* ``deliver`` — every minute: one pass over the outbox;
* ``monthly_report`` — on the 1st at 06:00 region time: the report for the month before.

Job functions take the time from an injectable :class:`Clock`; tests set a
movable clock with :func:`set_runtime` and call the job functions directly.

One active scheduler per database: :class:`LeasedScheduler` runs its jobs
only while this process holds the ``scheduler`` row of ``scheduler_leases``
(:class:`Lease`, renewed every 15 s, lapsing after 60 s). A second ``cur run``
logs who is active and stands by (its web application still serves); it
takes over when the lease is released (clean shutdown) or expires (the
holder died). See docs/scheduler.md.
"""

from __future__ import annotations

import logging
import os
import signal
import socket
import threading
import time
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any, Callable, Protocol

from apscheduler.executors.pool import ThreadPoolExecutor
from apscheduler.jobstores.sqlalchemy import SQLAlchemyJobStore
from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.schedulers.base import STATE_RUNNING, STATE_STOPPED, BaseScheduler
from apscheduler.util import undefined

from .context import App

log = logging.getLogger(__name__)

JOB_DEFAULTS = {"max_instances": 1, "coalesce": True, "misfire_grace_time": 300}
PROCESS_MINUTES = 2
SOURCES_MINUTES = 5
LEASE_NAME = "scheduler"
#: The lease lapses this long after its last renewal (a crashed holder is replaced after at most this).
LEASE_TTL = timedelta(seconds=60)
#: How often the holder renews it and a standby process looks at it.
LEASE_RENEW = timedelta(seconds=15)


class Clock(Protocol):
    def now(self) -> datetime: ...


class SystemClock:
    def now(self) -> datetime:
        return datetime.now(timezone.utc)


@dataclass
class Runtime:
    """What the job functions work with (module-level, so persisted jobs stay plain references)."""

    app: App
    clock: Clock = field(default_factory=SystemClock)
    senders: dict[str, Any] | None = None
    report_dir: Path = Path("reports")
    scheduler: BaseScheduler | None = None
    classifier: Any = None
    classifier_key: str | None = None
    #: Set by ``build_scheduler``: jobs do nothing while another process holds the lease.
    lease: "Lease | None" = None

    def get_senders(self) -> dict[str, Any]:
        if self.senders is None:
            from .notify import senders_from_settings

            self.senders = senders_from_settings(self.app.settings)
        return self.senders


_runtime: Runtime | None = None


def set_runtime(rt: Runtime) -> Runtime:
    global _runtime
    _runtime = rt
    return rt


def runtime() -> Runtime:
    if _runtime is None:
        raise RuntimeError("scheduler runtime is not set: call build_scheduler() or set_runtime() first")
    return _runtime


def _optional(module: str, name: str) -> Callable[..., Any] | None:
    """A function of another stage, or None while that stage is not installed."""
    import importlib

    try:
        return getattr(importlib.import_module(module), name)
    except (ImportError, AttributeError):
        log.warning("%s.%s is not available; job skipped", module, name)
        return None


# --------------------------------------------------------------------------- jobs


def _standing_by(rt: Runtime) -> bool:
    """True unless this process surely holds the lease (a job that slipped through a pause does nothing)."""
    return rt.lease is not None and not rt.lease.valid()


def job_crawl(source_id: int) -> Any:
    rt = runtime()
    if _standing_by(rt):
        return None
    crawl = _optional("pipeline.crawl", "run_crawl")
    collectors_cls = _optional("pipeline.crawl", "Collectors")
    if crawl is None or collectors_cls is None:
        return None
    from storage.models import Source

    db = rt.app.ready_db()
    with db.session() as s:
        src = s.get(Source, source_id)
        if src is None or not src.enabled:
            return None
        if src.retry_after is not None and src.retry_after > rt.clock.now():
            log.info("source %s waits until %s", source_id, src.retry_after)
            return None
    reports = crawl(db, [source_id], collectors_cls(rt.app.settings, default_tz=rt.app.region.region.tz))
    for r in reports:
        log.info("crawl %s: %s, new %s, edited %s, deleted %s %s", r.url, r.status, r.inserted, r.edited, r.deleted, r.message)
    return reports


def job_process() -> Any:
    rt = runtime()
    if _standing_by(rt):
        return None
    process = _optional("pipeline.process", "process_pending")
    if process is None:
        return None
    kwargs: dict[str, Any] = {}
    not_found = _optional("pipeline.process", "ModelNotFound") or LookupError
    try:
        clf = _classifier(rt)
    except not_found as e:  # no trained model yet: nothing to do until `cur train`
        log.warning("processing skipped: %s", e)
        return None
    if clf is not None:
        kwargs["classifier"] = clf
    busy = _optional("pipeline.process", "ProcessingBusy") or LookupError
    try:
        result = process(rt.app, rt.clock.now(), **kwargs)
    except busy as e:  # an operator's `cur process` is at it: the next pass catches up
        log.info("processing skipped: %s", e)
        return None
    job_notify()
    return result


def _classifier(rt: Runtime) -> Any:
    """The active classifier, loaded once and again only when another model becomes active."""
    find = _optional("pipeline.process", "find_active_model")
    load = _optional("pipeline.process", "load_classifier")
    if find is None or load is None:
        return None
    key = str(find(rt.app))
    if rt.classifier_key != key:
        rt.classifier, rt.classifier_key = load(rt.app), key
    return rt.classifier


def job_notify() -> int:
    """Enqueue the notifications of incident events not handled yet (follows the persisted sweep cursor)."""
    from .notify import notify_pending

    rt = runtime()
    if _standing_by(rt):
        return 0
    return notify_pending(rt.app.ready_db(), rt.app.region, rt.clock.now()).enqueued


def job_deadlines() -> Any:
    rt = runtime()
    if _standing_by(rt):
        return None
    check = _optional("pipeline.incidents", "check_deadlines")
    actions = None
    try:
        if check is not None:
            with rt.app.ready_db().session() as s:
                actions = check(s, rt.app.region, rt.clock.now())
    finally:
        job_notify()  # a failing deadline check must not hold back other notifications
    return actions


def job_deliver() -> Any:
    from .notify import deliver_due

    rt = runtime()
    if _standing_by(rt):
        return None
    stats = deliver_due(rt.app.ready_db(), rt.clock.now(), rt.get_senders())
    if stats.sent or stats.retried or stats.dead:
        log.info("outbox: %s", stats)
    return stats


def previous_month(now: datetime, tz) -> str:  # noqa: ANN001
    local = now.astimezone(tz)
    first = local.replace(day=1)
    prev = first - timedelta(days=1)
    return f"{prev.year:04d}-{prev.month:02d}"


def job_monthly_report() -> tuple[Path, Path] | None:
    from .reports import write_report

    rt = runtime()
    if _standing_by(rt):
        return None
    now = rt.clock.now()
    month = previous_month(now, rt.app.region.region.tz)
    with rt.app.ready_db().session() as s:
        paths = write_report(s, rt.app.region, month, rt.report_dir, now)
    log.info("monthly report for %s: %s, %s", month, *paths)
    return paths


def job_sync_sources() -> dict[str, int]:
    """Make the crawl jobs match the enabled sources and their intervals."""
    rt = runtime()
    sched = rt.scheduler
    if sched is None or _standing_by(rt):
        return {}
    from storage.sources import list_sources

    with rt.app.ready_db().session() as s:
        wanted = {f"crawl:{src.id}": (src.id, max(1, src.interval_minutes)) for src in list_sources(s, enabled_only=True)}
    added = removed = changed = 0
    for job in sched.get_jobs():
        if job.id.startswith("crawl:") and job.id not in wanted:
            job.remove()
            removed += 1
    for job_id, (sid, minutes) in wanted.items():
        job = sched.get_job(job_id)
        if job is None:
            sched.add_job(job_crawl, "interval", minutes=minutes, args=[sid], id=job_id, name=f"обход источника {sid}", replace_existing=True)
            added += 1
        elif getattr(job.trigger, "interval", None) != timedelta(minutes=minutes):
            job.reschedule("interval", minutes=minutes)
            changed += 1
    return {"added": added, "removed": removed, "changed": changed}


# --------------------------------------------------------------------------- building and running


def _jobstore_url(url: str) -> str:
    return "postgresql+psycopg://" + url[len("postgresql://") :] if url.startswith("postgresql://") else url


class Lease:
    """This process's claim to be the active scheduler of the database (``scheduler_leases``).

    ``hold()`` takes the lease if it is free, expired or already ours, and
    renews it otherwise; it answers whether this process may run jobs now.
    If the database cannot be reached, the process stays active only until
    its last renewal would lapse (measured on the monotonic clock, minus one
    renewal interval for safety), so it stops before anyone can take over.
    The lease is timed with the system clock (not the jobs' ``Clock``).
    """

    def __init__(self, db: Any, ttl: timedelta = LEASE_TTL, renew_every: timedelta = LEASE_RENEW, name: str = LEASE_NAME, tz: Any = None):
        if renew_every >= ttl:
            raise ValueError("the lease must be renewed more often than it lapses")
        self.db, self.ttl, self.renew_every, self.name, self.tz = db, ttl, renew_every, name, tz or timezone.utc
        self.host, self.pid = socket.gethostname(), os.getpid()
        self.holder = f"{self.host}:{self.pid}:{uuid.uuid4().hex[:8]}"
        self.active = False
        #: The other holder as last seen (while standing by).
        self.other: Any = None
        self._valid_until = 0.0

    @staticmethod
    def now() -> datetime:
        return datetime.now(timezone.utc)

    def valid(self) -> bool:
        """Held, and the last renewal is recent enough that nobody can have taken over meanwhile.

        After a stall (the process was stopped, the machine suspended) this
        turns false before the keeper has even asked the database again.
        """
        return self.active and time.monotonic() < self._valid_until

    def hold(self) -> bool:
        from storage import coordination as co

        started = time.monotonic()
        try:
            with self.db.session() as s:
                ours, info = co.acquire_lease(s, self.name, self.holder, self.host, self.pid, self.now(), self.ttl)
        except Exception as e:  # noqa: BLE001  (the database is away: keep going while the lease surely lasts)
            still = self.active and time.monotonic() < self._valid_until
            log.warning("аренда планировщика не продлена (%s); %s", e, "работа продолжается до её истечения" if still else "задания приостановлены")
            self.active = still
            return still
        if ours:
            self._valid_until = started + (self.ttl - self.renew_every).total_seconds()
            self.other = None
        else:
            self.other = info
        self.active = ours
        return ours

    def release(self) -> None:
        if not self.active:
            return
        from storage import coordination as co

        self.active = False
        try:
            with self.db.session() as s:
                co.release_lease(s, self.name, self.holder, self.now())
            log.info("Аренда планировщика освобождена (хост %s, pid %s).", self.host, self.pid)
        except Exception as e:  # noqa: BLE001
            log.warning("аренду планировщика освободить не удалось (%s): другой процесс возьмёт её, когда она истечёт", e)

    def _when(self, at: datetime | None) -> str:
        from .notify import local_time

        return local_time(at, self.tz)

    def describe_other(self) -> str:
        o = self.other
        if o is None:
            return "неизвестно кто"
        return f"хост {o.host}, pid {o.pid}, активен с {self._when(o.acquired_at)}, аренда до {self._when(o.expires_at)}"


def lease_status(db: Any, tz: Any = None, name: str = LEASE_NAME, now: datetime | None = None) -> str:
    """One Russian line saying which scheduler is active on the database (for status output)."""
    from storage import coordination as co

    from .notify import local_time

    now, tz = now or datetime.now(timezone.utc), tz or timezone.utc
    with db.session() as s:
        info = co.get_lease(s, name)
    if info is None:
        return "Планировщик ни разу не запускался на этой базе данных."
    if info.held_at(now):
        return (f"Активный планировщик: хост {info.host}, pid {info.pid}, с {local_time(info.acquired_at, tz)}, "
                f"аренда продлена {local_time(info.renewed_at, tz)}.")  # fmt: skip
    return f"Активного планировщика нет (последний: хост {info.host}, pid {info.pid}, с {local_time(info.acquired_at, tz)})."


class LeasedScheduler(BackgroundScheduler):
    """A ``BackgroundScheduler`` that runs its jobs only while its :class:`Lease` is held.

    ``start()`` takes the lease or stands by; a keeper thread renews it (or,
    standing by, tries to take it: then the scheduler starts, or resumes, and
    the crawl jobs are synchronised). Losing the lease pauses the scheduler
    (running jobs finish; the outbox claims keep deliveries single).
    ``shutdown()`` waits for running jobs (the lease still renewed), stops
    the keeper and releases the lease. ``running`` is true from ``start()`` to ``shutdown()`` even while
    standing by.
    """

    def __init__(self, *args: Any, lease: Lease | None = None, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self.lease = lease
        #: Called once, right before the scheduler first starts in this process (adds the jobs).
        self.setup: Callable[[BaseScheduler], None] | None = None
        self._keeper: threading.Thread | None = None
        self._halt = threading.Event()
        self._closing = False
        self._start_paused = False

    @property
    def running(self) -> bool:  # type: ignore[override]
        return self.state != STATE_STOPPED or (self._keeper is not None and self._keeper.is_alive())

    @property
    def active(self) -> bool:
        return self.lease is None or self.lease.active

    def start(self, paused: bool = False) -> None:  # type: ignore[override]
        if self.lease is None:
            self._run_setup()
            super().start(paused=paused)
            return
        self._start_paused = paused
        self._halt.clear()
        self._closing = False
        if self.lease.hold():
            self._activate()
        else:
            log.warning(
                "Активен другой планировщик (%s). Этот процесс (хост %s, pid %s) ждёт и возьмёт работу на себя, "
                "когда тот остановится или перестанет продлевать аренду.",
                self.lease.describe_other(), self.lease.host, self.lease.pid,
            )  # fmt: skip
        self._keeper = threading.Thread(target=self._keep, name="scheduler-lease", daemon=True)
        self._keeper.start()

    def _process_jobs(self) -> float | None:
        """APScheduler's pass over due jobs, made only while running and surely holding the lease.

        Processing a job also moves its next run time in the shared job store,
        so a process that is not the holder must not do it — not even the
        pass APScheduler makes when a paused scheduler is shut down (it would
        consume due runs that belong to the active scheduler).
        """
        if self.state != STATE_RUNNING:
            return None
        if self.lease is not None and not self.lease.valid():
            return 1.0  # look again in a second: the keeper may renew, or pause us
        return super()._process_jobs()

    def _run_setup(self) -> None:
        setup, self.setup = self.setup, None
        if setup is not None:
            setup(self)

    def _activate(self) -> None:
        if self.state == STATE_STOPPED:
            self._run_setup()  # the jobs' due times are read from the store now, not when this process started
            super().start(paused=self._start_paused)
        elif not self._start_paused:
            self.resume()
        assert self.lease is not None
        log.info("Планировщик активен: задания выполняет этот процесс (хост %s, pid %s).", self.lease.host, self.lease.pid)

    def _keep(self) -> None:
        assert self.lease is not None
        while not self._halt.wait(self.lease.renew_every.total_seconds()):
            was = self.lease.active
            if self._closing:
                if was:
                    self.lease.hold()  # keep it while the running jobs finish; nothing starts or resumes now
                continue
            now_active = self.lease.hold()
            if self._halt.is_set() or self._closing:
                continue
            if now_active and not was:
                log.warning("Аренда планировщика свободна или истекла: этот процесс берёт работу на себя.")
                self._activate()
                try:
                    job_sync_sources()
                except Exception:  # noqa: BLE001
                    log.exception("crawl jobs could not be synchronised after the takeover")
            elif was and not now_active:
                if self.state != STATE_STOPPED:
                    self.pause()
                log.warning("Аренда планировщика потеряна (%s): задания приостановлены, процесс ждёт.", self.lease.describe_other())

    def shutdown(self, wait: bool = True) -> None:  # type: ignore[override]
        if self.lease is None:
            super().shutdown(wait=wait)
            return
        self._closing = True
        if self.state != STATE_STOPPED:
            super().shutdown(wait=wait)  # running jobs finish first (wait=True), the keeper still renewing the lease
        self._halt.set()
        if self._keeper is not None and self._keeper is not threading.current_thread():
            self._keeper.join()
        self._keeper = None
        self.lease.release()


def _add_jobs(sched: BaseScheduler, db: Any) -> None:
    """Add the jobs of ``cur run`` (replacing those of the same id in the job store).

    A job already in the store keeps its due time, so a run missed while no
    scheduler was up is made up at start within the job's misfire grace
    (e.g. the monthly report when the scheduler comes back on the 1st after
    06:00) instead of moving to the next period.
    """
    due = _stored_next_run_times(sched, db)
    sched.add_job(job_process, "interval", minutes=PROCESS_MINUTES, id="process", name="обработка новых постов", replace_existing=True,
                  next_run_time=due.get("process", undefined))  # fmt: skip
    sched.add_job(job_deadlines, "interval", minutes=1, id="deadlines", name="проверка сроков", replace_existing=True,
                  next_run_time=due.get("deadlines", undefined))  # fmt: skip
    sched.add_job(job_deliver, "interval", minutes=1, id="deliver", name="отправка уведомлений", replace_existing=True,
                  next_run_time=due.get("deliver", undefined))  # fmt: skip
    sched.add_job(job_sync_sources, "interval", minutes=SOURCES_MINUTES, id="sources", name="список источников", replace_existing=True,
                  next_run_time=due.get("sources", undefined))  # fmt: skip
    sched.add_job(
        job_monthly_report, "cron", day=1, hour=6, minute=0, id="monthly_report", name="ежемесячный отчёт",
        replace_existing=True, misfire_grace_time=24 * 3600, next_run_time=due.get("monthly_report", undefined),
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
        sched.setup = lambda s: _add_jobs(s, db)  # when this process becomes the active scheduler
    else:
        _add_jobs(sched, db)
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

    def _stop(signum, _frame):  # noqa: ANN001
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
