"""``cur run --no-web`` with test-sized lease intervals and a delivery tick every 0.2 s.

Used by tests/test_scheduler_lease.py as a real process:

    python tests/scheduler_worker.py TICKS_FILE LEASE_TTL_SECONDS LEASE_RENEW_SECONDS [GO_FILE]

With GO_FILE the process imports everything and then waits for that file to exist before it starts the
scheduler (a test starts a second process while the first one is still starting, and lets it go later).

Settings come from the environment (``CUR_DATABASE_URL``, ``CUR_WEBHOOK_SECRET``).
It runs the real ``pipeline.scheduler.run_forever`` (the lease, the standby,
the clean shutdown); the only addition is a job in a memory job store that
appends this process's pid to TICKS_FILE when the jobs' lease check lets
it run, then runs the real ``job_deliver``, so the test sees which process
runs jobs and delivers the outbox.
"""

from __future__ import annotations

import logging
import os
import sys
import time
from datetime import timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from apscheduler.jobstores.memory import MemoryJobStore

from pipeline import scheduler as sch
from pipeline.context import App


def main() -> None:
    ticks, ttl, renew = Path(sys.argv[1]), float(sys.argv[2]), float(sys.argv[3])
    go = Path(sys.argv[4]) if len(sys.argv) > 4 else None
    while go is not None and not go.exists():
        time.sleep(0.02)
    logging.basicConfig(level=logging.INFO, stream=sys.stderr, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger("apscheduler").setLevel(logging.ERROR)

    def tick() -> None:
        if not sch._standing_by(sch.runtime()):  # the check every job makes: this process surely holds the lease
            with ticks.open("a", encoding="utf-8") as f:
                f.write(f"{os.getpid()}\n")
        sch.job_deliver()

    def started(sched) -> None:
        sched.add_jobstore(MemoryJobStore(), "memory")
        sched.add_job(tick, "interval", seconds=0.2, id="tick", jobstore="memory", replace_existing=True)
        print("started", flush=True)

    sch.run_forever(App(), on_started=started, lease_ttl=timedelta(seconds=ttl), lease_renew=timedelta(seconds=renew))
    print("stopped", flush=True)


if __name__ == "__main__":
    main()
