"""One active scheduler per database: the lease, the standby, takeover after a crash, clean release.

The lease is exercised directly and through real ``cur run`` processes
(``tests/scheduler_worker.py``: the real ``run_forever`` with a 2 s lease and
a delivery tick every 0.2 s) delivering signed webhooks to a receiver on
loopback. A process is stalled with SIGSTOP and killed with SIGKILL.
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import threading
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from aiohttp import web
from fakes.server import serve  # tests/ is on sys.path (rootdir conftest)
from sqlalchemy import func, select

from pipeline import scheduler as sch
from pipeline.notify import enqueue
from storage import Database
from storage import coordination as co
from storage.models import OutboxMessage

ROOT = Path(__file__).resolve().parent.parent
WORKER = ROOT / "tests" / "scheduler_worker.py"
TTL, RENEW = 2.0, 0.3


def wait_for(cond, timeout: float = 30.0, step: float = 0.05):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        got = cond()
        if got:
            return got
        time.sleep(step)
    raise AssertionError(f"timed out after {timeout} s waiting for {getattr(cond, '__name__', cond)}")


# --------------------------------------------------------------------------- the lease itself


def test_one_holder_the_other_waits_until_release_or_expiry(db):
    a = sch.Lease(db, ttl=timedelta(seconds=1), renew_every=timedelta(seconds=0.2))
    b = sch.Lease(db, ttl=timedelta(seconds=1), renew_every=timedelta(seconds=0.2))
    assert a.hold() and a.active
    assert not b.hold() and not b.active
    assert b.other.holder == a.holder and b.other.pid == os.getpid()
    assert "активен с" in b.describe_other()
    assert a.hold()  # renewal keeps it
    assert not b.hold()
    # the holder stops renewing (crashed): the lease lapses and the other one takes it
    time.sleep(1.1)
    assert b.hold()
    assert not a.hold() and not a.active  # the old holder learns it lost the lease
    # a clean shutdown releases at once: no waiting for the expiry
    b.release()
    with db.session() as s:
        info = co.get_lease(s, sch.LEASE_NAME)
        assert info.holder is None and info.pid == os.getpid()
    assert a.hold()
    assert "Активный планировщик" in sch.lease_status(db)
    a.release()
    assert "Активного планировщика нет" in sch.lease_status(db)


def test_a_standby_scheduler_runs_no_job_and_takes_over_after_expiry(app_db):
    app, db = app_db
    ran: list[str] = []
    from apscheduler.jobstores.memory import MemoryJobStore

    sched = sch.build_scheduler(app, lease_ttl=timedelta(seconds=1.5), lease_renew=timedelta(seconds=0.2))
    sched.add_jobstore(MemoryJobStore(), "memory")
    sched.add_job(ran.append, "interval", seconds=0.1, args=["tick"], id="tick", jobstore="memory")
    holder = sch.Lease(db, ttl=timedelta(seconds=1.5), renew_every=timedelta(seconds=0.2))
    assert holder.hold()
    sched.start()
    try:
        assert sched.running and not sched.active
        assert sch.job_sync_sources() == {} and sch.job_deliver() is None  # the job functions stand by too
        for _ in range(6):  # the holder keeps renewing: nothing runs here
            time.sleep(0.1)
            assert holder.hold()
        assert ran == []
        t_stop = time.monotonic()  # the holder dies now
        wait_for(lambda: ran)
        assert time.monotonic() - t_stop >= 1.5 - 0.2 - 0.1  # not before its lease could have lapsed
        assert sched.active
    finally:
        sched.shutdown(wait=True)
    with db.session() as s:
        assert co.get_lease(s, sch.LEASE_NAME).holder is None  # released on shutdown


@pytest.fixture
def app_db(db_url):
    from config import Settings
    from pipeline.context import App

    a = App(settings=Settings(database_url=db_url))
    db = a.ready_db()
    yield a, db
    a.db.dispose()


# --------------------------------------------------------------------------- real processes


class Receiver:
    """A webhook receiver that takes 30 ms per request and records every delivery id it answers.

    The ``hold_at``-th request is held until ``release`` is set: the sender
    is then waiting for the answer with no database transaction open.
    """

    def __init__(self, hold_at: int = 0) -> None:
        self.ids: list[str] = []
        self.count = 0
        self.hold_at = hold_at
        self.holding = threading.Event()
        self.release = threading.Event()

    async def handle(self, request: web.Request) -> web.Response:
        await request.read()
        self.count += 1
        if self.count == self.hold_at:
            self.holding.set()
            while not self.release.is_set():
                await asyncio.sleep(0.01)
        await asyncio.sleep(0.03)
        self.ids.append(request.headers["X-CUR-Delivery"])
        return web.Response(status=204)

    def app(self) -> web.Application:
        a = web.Application()
        a.router.add_post("/hook", self.handle)
        return a


def _enqueue(db: Database, url: str, n: int, tag: str) -> None:
    now = datetime.now(timezone.utc)
    with db.session() as s:
        for i in range(n):
            enqueue(s, "webhook", url, f"Сообщение {tag}{i}", "текст", {"event": "test", "event_at": now.isoformat()}, f"test:{tag}:{i}", now=now)


def _spawn(tmp_path: Path, env: dict[str, str], name: str, ticks: Path, go: Path | None = None) -> tuple[subprocess.Popen, Path]:
    """A scheduler process; with ``go`` it starts its scheduler only once that file exists (see scheduler_worker.py)."""
    err = tmp_path / f"{name}.log"
    proc = subprocess.Popen(
        [sys.executable, str(WORKER), str(ticks), str(TTL), str(RENEW), *([str(go)] if go else [])],
        env=env, cwd=tmp_path, stdout=subprocess.PIPE, stderr=err.open("w"), text=True,
    )  # fmt: skip
    return proc, err


def _started(proc: subprocess.Popen, err: Path) -> None:
    line = proc.stdout.readline()
    assert line.strip() == "started", (line, err.read_text(encoding="utf-8"))


def _runs(ticks: Path) -> list[int]:
    """The pids of the processes that ran the tick job, one entry per uninterrupted run."""
    out: list[int] = []
    for line in ticks.read_text(encoding="utf-8").split():
        if not out or out[-1] != int(line):
            out.append(int(line))
    return out


def _lease(db: Database) -> co.LeaseInfo:
    with db.session() as s:
        return co.get_lease(s, sch.LEASE_NAME)


@pytest.mark.slow  # two real `cur run` processes and a takeover
def test_two_cur_run_processes_one_active_takeover_and_no_message_twice(db_url, cur_env, tmp_path):
    receiver = Receiver()
    ticks = tmp_path / "ticks.txt"
    ticks.touch()
    env = dict(cur_env, CUR_WEBHOOK_SECRET="lease-test-secret")
    db = Database(db_url)
    procs: list[subprocess.Popen] = []
    try:
        with serve(receiver.app()) as srv:
            url = f"{srv.url}/hook"
            a, a_log = _spawn(tmp_path, env, "a", ticks)
            procs.append(a)
            go_b = tmp_path / "b.go"
            b, b_log = _spawn(tmp_path, env, "b", ticks, go=go_b)  # starts up meanwhile, its scheduler after A holds
            procs.append(b)
            _started(a, a_log)
            wait_for(lambda: _runs(ticks) == [a.pid])
            go_b.touch()
            _started(b, b_log)
            # the second one says who is active and stands by
            wait_for(lambda: "Активен другой планировщик" in b_log.read_text(encoding="utf-8"))
            assert f"pid {a.pid}" in b_log.read_text(encoding="utf-8")
            assert "Планировщик активен" in a_log.read_text(encoding="utf-8")
            time.sleep(1.0)
            assert _runs(ticks) == [a.pid]  # only the holder runs jobs

            # A stalls in the middle of a delivery pass, waiting for the receiver's answer to a message
            # it claimed; B takes over when A's lease lapses
            receiver.hold_at = 8
            _enqueue(db, url, 40, "x")
            wait_for(receiver.holding.is_set, step=0.005)
            renewed = _lease(db).renewed_at
            wait_for(lambda: _lease(db).renewed_at != renewed, step=0.005)  # just renewed: not inside a transaction now
            a.send_signal(signal.SIGSTOP)
            receiver.release.set()
            stalled_lease = _lease(db)
            assert stalled_lease.pid == a.pid
            wait_for(lambda: _lease(db).pid == b.pid)
            taken = _lease(db)
            assert taken.acquired_at >= stalled_lease.expires_at  # after the expiry, not before
            assert "берёт работу на себя" in b_log.read_text(encoding="utf-8")
            wait_for(lambda: len(receiver.ids) >= 39)  # B delivers everything but the message A holds a claim on
            assert _runs(ticks) == [a.pid, b.pid]
            # A wakes up: it records the message it was sending, claims nothing B sent, and stands by
            a.send_signal(signal.SIGCONT)
            wait_for(lambda: "Аренда планировщика потеряна" in a_log.read_text(encoding="utf-8"))
            wait_for(lambda: len(receiver.ids) >= 40)
            time.sleep(1.0)
            assert len(receiver.ids) == len(set(receiver.ids)) == 40  # each message once
            with db.session() as s:
                assert s.scalar(select(func.count()).where(OutboxMessage.status == "sent")) == 40
            assert _runs(ticks) == [a.pid, b.pid]  # A ran no job after it woke up without the lease

            # B is killed: A (standing by again) takes over after B's lease lapses and delivers new messages
            before = _lease(db)
            b.kill()
            b.wait(10)
            wait_for(lambda: _runs(ticks)[-1] == a.pid)
            assert _lease(db).acquired_at >= before.expires_at
            _enqueue(db, url, 10, "y")
            wait_for(lambda: len(receiver.ids) >= 50)
            time.sleep(0.5)
            assert len(receiver.ids) == len(set(receiver.ids)) == 50
            assert _runs(ticks) == [a.pid, b.pid, a.pid]  # never two at once

            # a clean shutdown releases the lease
            a.send_signal(signal.SIGTERM)
            out, _ = a.communicate(timeout=30)
            assert a.returncode == 0 and "stopped" in out
            log_a = a_log.read_text(encoding="utf-8")
            assert "Аренда планировщика освобождена" in log_a and "Traceback" not in log_a
            assert _lease(db).holder is None
    finally:
        for p in procs:
            if p.poll() is None:
                p.send_signal(signal.SIGCONT)
                p.kill()
                p.wait(10)
        db.dispose()
