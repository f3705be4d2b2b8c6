"""The jobs of ``cur run`` and the runtime they work with.

* ``crawl:<source id>`` — crawl one enabled source every ``interval_minutes``;
* ``sources`` — every 5 minutes, add/remove/retime crawl jobs as sources change;
* ``process`` — classify new posts, make and route incidents (``pipeline.process``);
* ``deadlines`` — every minute: ``pipeline.incidents.check_deadlines`` then the
  notification sweep over the event log (``pipeline.notify.notify_pending``);
* ``deliver`` — every minute: one pass over the outbox;
* ``alerts`` — every 15 minutes: emerging problems (``pipeline.alerts.check_emerging``);
* ``monthly_report`` — on the 1st at 06:00 region time: the report for the month before.

Job functions take the time from an injectable :class:`Clock`; tests set a
movable clock with :func:`set_runtime` and call the job functions directly.
Jobs are module-level functions, so the job store keeps plain references.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Protocol

from apscheduler.schedulers.base import BaseScheduler

from ..context import App

if TYPE_CHECKING:
    from .lease import Lease

log = logging.getLogger(__name__)


def stored_ref(job: Callable[..., Any]) -> str:
    """The reference the job store keeps for ``job``: ``pipeline.scheduler:<name>``.

    Stored jobs name the package, not the module inside it, so moving a job
    function within the package (or two versions running side by side during
    a takeover) never leaves rows the other process cannot resolve.
    """
    return f"pipeline.scheduler:{job.__name__}"


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
    #: With ``broker_url``: the broker the jobs send their work to (``pipeline.workers``), made on first use.
    tasks: Any = None
    #: ``(first id, last id, when)`` of the analyse tasks sent lately (not sent again before ``RESEND_AFTER``).
    dispatched: list[tuple[int, int, datetime]] = field(default_factory=list)

    def get_tasks(self) -> Any:
        """The workers' broker when ``broker_url`` is set, else None (the jobs run in this process)."""
        if not self.app.settings.broker_url:
            return None
        if self.tasks is None:
            from ..workers import connect

            self.tasks = connect(self.app.settings)
        return self.tasks

    def get_senders(self) -> dict[str, Any]:
        if self.senders is None:
            from ..notify import senders_from_settings

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


# --------------------------------------------------------------------------- jobs


def _standing_by(rt: Runtime) -> bool:
    """True unless this process surely holds the lease (a job that slipped through a pause does nothing)."""
    return rt.lease is not None and not rt.lease.valid()


#: A post sent for analysis is not sent again for this long (its task may still wait in the queue).
RESEND_AFTER = timedelta(minutes=10)


def _recorded(rt: Runtime, name: str) -> Any:
    """Record this run of job ``name`` in ``job_runs`` (``cur status`` shows the last one)."""
    from ..health import job_run

    return job_run(rt.app.ready_db(), name, rt.clock.now)


def job_crawl(source_id: int) -> Any:
    rt = runtime()
    if _standing_by(rt):
        return None
    from storage.models import Source

    from ..crawl import Collectors, run_crawl

    db = rt.app.ready_db()
    tasks = rt.get_tasks()
    if tasks is not None:
        tasks.send_crawl(source_id)  # a worker crawls it (`cur worker`)
        return None
    with db.session() as s:
        src = s.get(Source, source_id)
        if src is None or not src.enabled:
            return None
        if src.retry_after is not None and src.retry_after > rt.clock.now():
            log.info("source %s waits until %s", source_id, src.retry_after)
            return None
        tz = rt.app.profile_of(src.region).region.tz  # dates without a zone are the source region's
    with _recorded(rt, f"crawl:{source_id}"):
        reports = run_crawl(db, [source_id], Collectors(rt.app.settings, default_tz=tz))
    for r in reports:
        log.info("crawl %s: %s, new %s, edited %s, deleted %s %s", r.url, r.status, r.inserted, r.edited, r.deleted, r.message)
    return reports


def job_process() -> Any:
    rt = runtime()
    if _standing_by(rt):
        return None
    from ..process import ModelNotFound, ProcessingBusy, process_pending

    tasks = rt.get_tasks()
    if tasks is not None:
        with _recorded(rt, "process"):
            return _dispatch(rt, tasks)
    kwargs: dict[str, Any] = {}
    try:
        clf = _classifier(rt)
    except ModelNotFound as e:  # no trained model yet: nothing to do until `cur train`
        log.warning("processing skipped: %s", e)
        return None
    if clf is not None:
        kwargs["classifier"] = clf
    try:
        with _recorded(rt, "process"):
            result = process_pending(rt.app, rt.clock.now(), **kwargs)
    except ProcessingBusy as e:  # an operator's `cur process` is at it: the next pass catches up
        log.info("processing skipped: %s", e)
        return None
    job_notify()
    return result


def _dispatch(rt: Runtime, tasks: Any) -> int:
    """Send the pending posts to the workers as analyse tasks (not those sent within ``RESEND_AFTER``), then a group task."""
    from bisect import bisect_right

    from ..distributed import dispatch

    now = rt.clock.now()
    rt.dispatched = [r for r in rt.dispatched if now - r[2] < RESEND_AFTER]
    ranges = sorted(rt.dispatched)
    firsts = [r[0] for r in ranges]

    def recently_sent(pid: int) -> bool:
        k = bisect_right(firsts, pid) - 1
        return k >= 0 and ranges[k][0] <= pid <= ranges[k][1]

    sent = dispatch(rt.app, lambda a, b: tasks.send_analyse(a, b, now),
                    lambda sector, *region: tasks.send_group(now, sector, *region), recently_sent)
    rt.dispatched.extend((a, b, now) for a, b in sent)
    if sent:
        log.info("processing: %s analyse tasks sent (posts %s..%s)", len(sent), sent[0][0], sent[-1][1])
    return len(sent)


def _classifier(rt: Runtime) -> Any:
    """The active classifier, loaded once and again only when another model becomes active."""
    from ..process import find_active_model, load_classifier

    key = str(find_active_model(rt.app))
    if rt.classifier_key != key:
        rt.classifier, rt.classifier_key = load_classifier(rt.app), key
    return rt.classifier


def job_notify() -> int:
    """Enqueue the notifications of incident events not handled yet (follows the persisted sweep cursor)."""
    from ..notify import notify_pending

    rt = runtime()
    if _standing_by(rt):
        return 0
    return sum(notify_pending(rt.app.ready_db(), profile, rt.clock.now()).enqueued for profile in rt.app.served)


def job_deadlines() -> Any:
    rt = runtime()
    if _standing_by(rt):
        return None
    from ..incidents import check_deadlines

    actions = None
    try:
        with _recorded(rt, "deadlines"):
            actions = []
            for profile in rt.app.served:  # each region with its own calendar and time zone
                with rt.app.ready_db().session() as s:
                    actions += check_deadlines(s, profile, rt.clock.now())
    finally:
        job_notify()  # a failing deadline check must not hold back other notifications
    return actions


def job_alerts() -> Any:
    """Open, grow and close emerging-problem alerts for the runtime's clock."""
    rt = runtime()
    if _standing_by(rt):
        return None
    from ..alerts import check_emerging

    result = None
    with _recorded(rt, "alerts"):
        for profile in rt.app.served:
            with rt.app.ready_db().session() as s:
                found = check_emerging(s, profile, rt.clock.now())
            result = found if result is None else result.merged(found)
    assert result is not None
    if result.opened or result.closed:
        log.info("alerts: %s", result)
    return result


def job_deliver() -> Any:
    from ..notify import deliver_due

    rt = runtime()
    if _standing_by(rt):
        return None
    tasks = rt.get_tasks()
    if tasks is not None:
        tasks.send_deliver(rt.clock.now())
        return None
    with _recorded(rt, "deliver"):
        stats = deliver_due(rt.app.ready_db(), rt.clock.now(), rt.get_senders())
    if stats.sent or stats.retried or stats.dead:
        log.info("outbox: %s", stats)
    return stats


def previous_month(now: datetime, tz) -> str:
    local = now.astimezone(tz)
    first = local.replace(day=1)
    prev = first - timedelta(days=1)
    return f"{prev.year:04d}-{prev.month:02d}"


def job_monthly_report(region: str | None = None) -> tuple[Path, Path] | None:
    """The report of the month before of ``region`` (None: the default region); with several regions each has its
    own job at 06:00 of its own time zone (``monthly_report:<region>``) and writes into ``<report dir>/<region>/``."""
    from ..reports import write_report

    rt = runtime()
    if _standing_by(rt):
        return None
    profile = next((p for p in rt.app.served if p.code == (region or rt.app.settings.region)), None)
    if profile is None:
        log.info("monthly report of %s skipped: the region is no longer served", region)
        return None
    now = rt.clock.now()
    month = previous_month(now, profile.region.tz)
    folder = rt.report_dir / profile.code if rt.app.many_regions else rt.report_dir
    with _recorded(rt, "monthly_report" if region is None else f"monthly_report:{region}"), rt.app.ready_db().session() as s:
        paths = write_report(s, profile, month, folder, now)
    log.info("monthly report of %s for %s: %s, %s", profile.code, month, *paths)
    return paths


def job_sync_sources() -> dict[str, int]:
    """Make the crawl jobs match the enabled sources and their intervals."""
    rt = runtime()
    sched = rt.scheduler
    if sched is None or _standing_by(rt):
        return {}
    from storage.sources import list_sources

    with rt.app.ready_db().session() as s:
        served = [rt.app.region_filter(p) for p in rt.app.served]  # a source of a region not served is not crawled
        wanted = {f"crawl:{src.id}": (src.id, max(1, src.interval_minutes))
                  for src in list_sources(s, enabled_only=True, regions=served)}
    added = removed = changed = 0
    for job in sched.get_jobs():
        if job.id.startswith("crawl:") and job.id not in wanted:
            job.remove()
            removed += 1
    for job_id, (sid, minutes) in wanted.items():
        job = sched.get_job(job_id)
        if job is None:
            sched.add_job(stored_ref(job_crawl), "interval", minutes=minutes, args=[sid], id=job_id, name=f"обход источника {sid}", replace_existing=True)
            added += 1
        elif getattr(job.trigger, "interval", None) != timedelta(minutes=minutes):
            job.reschedule("interval", minutes=minutes)
            changed += 1
    return {"added": added, "removed": removed, "changed": changed}
