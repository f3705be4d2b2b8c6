"""One active scheduler per database: the lease and the scheduler that runs only while holding it.

:class:`LeasedScheduler` runs its jobs only while this process holds the
``scheduler`` row of ``scheduler_leases`` (:class:`Lease`, renewed every 15 s,
lapsing after 60 s). A second ``cur run`` logs who is active and stands by
(its web application still serves); it takes over when the lease is released
(clean shutdown) or expires (the holder died). See docs/scheduler.md.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
import uuid
from datetime import datetime, timedelta, timezone
from typing import Any, Callable

from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.schedulers.base import STATE_RUNNING, STATE_STOPPED, BaseScheduler

from ..timefmt import local_time

log = logging.getLogger(__name__)

LEASE_NAME = "scheduler"
#: The lease lapses this long after its last renewal (a crashed holder is replaced after at most this).
LEASE_TTL = timedelta(seconds=60)
#: How often the holder renews it and a standby process looks at it.
LEASE_RENEW = timedelta(seconds=15)


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
        return local_time(at, self.tz)

    def describe_other(self) -> str:
        o = self.other
        if o is None:
            return "неизвестно кто"
        return f"хост {o.host}, pid {o.pid}, активен с {self._when(o.acquired_at)}, аренда до {self._when(o.expires_at)}"


def lease_status(db: Any, tz: Any = None, name: str = LEASE_NAME, now: datetime | None = None) -> str:
    """One Russian line saying which scheduler is active on the database (for status output)."""
    from storage import coordination as co

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
        #: Called after this process takes the lease over from another one (synchronises the crawl jobs).
        #: Set by ``build_scheduler``: the lease knows nothing of the jobs it guards.
        self.on_takeover: Callable[[], object] | None = None
        self._keeper: threading.Thread | None = None
        self._halt = threading.Event()
        self._closing = False
        self._start_paused = False

    @property
    def running(self) -> bool:
        return self.state != STATE_STOPPED or (self._keeper is not None and self._keeper.is_alive())

    @property
    def active(self) -> bool:
        return self.lease is None or self.lease.active

    def start(self, paused: bool = False) -> None:
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
                    if self.on_takeover is not None:
                        self.on_takeover()
                except Exception:
                    log.exception("crawl jobs could not be synchronised after the takeover")
            elif was and not now_active:
                if self.state != STATE_STOPPED:
                    self.pause()
                log.warning("Аренда планировщика потеряна (%s): задания приостановлены, процесс ждёт.", self.lease.describe_other())

    def shutdown(self, wait: bool = True) -> None:
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
