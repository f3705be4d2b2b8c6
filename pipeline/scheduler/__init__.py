"""The scheduler behind ``cur run`` (APScheduler 3), one module per job.

* ``jobs``  — the job functions (crawl, sources, process, deadlines, deliver,
  monthly report) and the runtime they read (app, clock, senders);
* ``lease`` — one active scheduler per database: the lease and ``LeasedScheduler``;
* ``build`` — the configured scheduler with every job, and ``run_forever``.

See docs/scheduler.md. Import the public names from ``pipeline.scheduler``;
jobs stored by earlier versions reference ``pipeline.scheduler:job_*`` and
still resolve through these re-exports.
"""

from .build import (
    JOB_DEFAULTS,
    PROCESS_MINUTES,
    SOURCES_MINUTES,
    build_scheduler,
    run_forever,
)
from .jobs import (
    Clock,
    Runtime,
    SystemClock,
    _standing_by,  # noqa: F401  (tests check the standby guard)
    job_alerts,
    job_crawl,
    job_deadlines,
    job_deliver,
    job_monthly_report,
    job_notify,
    job_process,
    job_sync_sources,
    previous_month,
    runtime,
    set_runtime,
)
from .lease import LEASE_NAME, LEASE_RENEW, LEASE_TTL, Lease, LeasedScheduler, lease_status

__all__ = [
    "Clock",
    "JOB_DEFAULTS",
    "LEASE_NAME",
    "LEASE_RENEW",
    "LEASE_TTL",
    "Lease",
    "LeasedScheduler",
    "PROCESS_MINUTES",
    "Runtime",
    "SOURCES_MINUTES",
    "SystemClock",
    "build_scheduler",
    "job_alerts",
    "job_crawl",
    "job_deadlines",
    "job_deliver",
    "job_monthly_report",
    "job_notify",
    "job_process",
    "job_sync_sources",
    "lease_status",
    "previous_month",
    "run_forever",
    "runtime",
    "set_runtime",
]
