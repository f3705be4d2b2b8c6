"""The scheduler of `cur run`: persisted jobs, no overlapping runs, clean shutdown, jobs on a moved clock."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import threading
import time
from datetime import UTC, datetime, timedelta, timezone

import pytest
from apscheduler.jobstores.sqlalchemy import SQLAlchemyJobStore
from sqlalchemy import func, inspect, select, text

from config import Settings
from pipeline import scheduler as sch
from pipeline.context import App
from storage import Database
from storage import events as ev
from storage.models import Authority, Incident, IncidentEvent, OutboxMessage, Post
from tests.helpers import FakeClock, free_port

T0 = datetime(2025, 12, 1, 0, 30, tzinfo=UTC)  # 1 Dec 07:30 in Kemerovo


@pytest.fixture
def app(db_url: str) -> App:
    a = App(settings=Settings(database_url=db_url))
    # the shared PostgreSQL test database is emptied per test for the project's tables only
    with a.db.engine.begin() as conn:
        if inspect(conn).has_table("apscheduler_jobs"):
            conn.execute(text("DELETE FROM apscheduler_jobs"))
    yield a
    a.db.dispose()


def test_jobs_are_persisted_with_no_overlap_and_coalescing(app, db_url):
    sched = sch.build_scheduler(app, FakeClock(T0))
    sched.start(paused=True)
    try:
        ids = {j.id for j in sched.get_jobs()}
        assert {"process", "deadlines", "deliver", "sources", "monthly_report"} <= ids
    finally:
        sched.shutdown(wait=True)
    # a fresh job store on the same database (as after a restart) sees the same jobs and their settings
    store = SQLAlchemyJobStore(engine=Database(db_url).engine)
    store.start(sched, "default")
    jobs = {j.id: j for j in store.get_all_jobs()}
    assert set(jobs) == ids
    for job in jobs.values():
        assert job.max_instances == 1 and job.coalesce is True
    assert jobs["monthly_report"].func_ref == "pipeline.scheduler:job_monthly_report"
    nxt = jobs["monthly_report"].next_run_time.astimezone(timezone(timedelta(hours=7)))
    assert (nxt.day, nxt.hour, nxt.minute) == (1, 6, 0)
    # building again (a restart) replaces, never duplicates
    sched2 = sch.build_scheduler(app, FakeClock(T0))
    sched2.start(paused=True)
    try:
        assert sorted(j.id for j in sched2.get_jobs()) == sorted(ids)
    finally:
        sched2.shutdown(wait=True)


def test_a_run_missed_while_the_scheduler_was_down_is_made_up_at_start(app, tmp_path):
    sched = sch.build_scheduler(app, FakeClock(T0), report_dir=tmp_path)
    sched.start(paused=True)
    # the scheduler went down before the 1st, 06:00 and comes back an hour after it (triggers use the real time)
    missed = datetime.now(UTC) - timedelta(hours=1)
    sched.get_job("monthly_report").modify(next_run_time=missed)
    sched.shutdown(wait=True)
    sched = sch.build_scheduler(app, FakeClock(T0), report_dir=tmp_path)
    sched.start()
    try:
        deadline = time.monotonic() + 20
        while not (tmp_path / "report-2025-11.html").exists() and time.monotonic() < deadline:
            time.sleep(0.1)
        assert (tmp_path / "report-2025-11.html").exists()  # within the 24 h grace: built at once, not next month
        nxt = sched.get_job("monthly_report").next_run_time.astimezone(timezone(timedelta(hours=7)))
        assert nxt > datetime.now(UTC) and (nxt.day, nxt.hour) == (1, 6)  # then the next month's
    finally:
        sched.shutdown(wait=True)


RUNNING = {"now": 0, "max": 0, "runs": 0}
RELEASE = threading.Event()
LOCK = threading.Lock()


def slow_job() -> None:
    with LOCK:
        RUNNING["now"] += 1
        RUNNING["runs"] += 1
        RUNNING["max"] = max(RUNNING["max"], RUNNING["now"])
    RELEASE.wait(5)
    with LOCK:
        RUNNING["now"] -= 1


def test_a_job_still_running_is_not_started_again(app):
    RUNNING.update(now=0, max=0, runs=0)
    RELEASE.clear()
    sched = sch.build_scheduler(app, FakeClock(T0))
    sched.start()
    try:
        job = sched.add_job(slow_job, "interval", seconds=1, id="slow", next_run_time=datetime.now(UTC))
        deadline = time.monotonic() + 5
        while RUNNING["runs"] == 0 and time.monotonic() < deadline:
            time.sleep(0.02)
        # while the first run blocks, make the job due again several times
        for _ in range(3):
            job.modify(next_run_time=datetime.now(UTC))
            sched.wakeup()
            time.sleep(0.1)
        assert RUNNING["max"] == 1 and RUNNING["runs"] == 1
    finally:
        RELEASE.set()
        sched.remove_job("slow")
        sched.shutdown(wait=True)
    assert RUNNING["now"] == 0  # shutdown waited for the running job


def test_jobs_on_a_moved_clock_notify_deliver_and_report(app, tmp_path):
    from email import message_from_bytes
    from email import policy as email_policy

    from aiosmtpd.controller import Controller

    class Inbox:
        messages: list = []
        contents: list = []

        async def handle_DATA(self, server, session, envelope):
            self.messages.append(envelope.rcpt_tos)
            self.contents.append(message_from_bytes(envelope.content, policy=email_policy.default))
            return "250 OK"

    inbox = Inbox()
    port = free_port()
    ctl = Controller(inbox, hostname="127.0.0.1", port=port)
    ctl.start()
    clock = FakeClock(T0)
    from pipeline.notify.channels import EmailSender

    sch.set_runtime(sch.Runtime(app, clock, senders={"email": EmailSender("127.0.0.1", port)}, report_dir=tmp_path / "reports"))
    db = app.ready_db()
    try:
        with db.session() as s:
            a = Authority(region="kuzbass", code="min_housing_roads", name="Министерство ЖКХ", role="ministry", email="gkh@example.ru")
            s.add(a)
            s.flush()
            routed = T0 - timedelta(days=3)
            # answered, then reopened: the final stage runs again and is due in a week (no reminder yet)
            inc = Incident(region="kuzbass", title="Нет света", sector="housing", state=ev.REOPENED, authority_id=a.id,
                           routed_at=routed, first_reply_due=routed + timedelta(hours=8), first_reply_at=routed + timedelta(hours=1),
                           interim_due=routed + timedelta(hours=24), interim_at=routed + timedelta(hours=2),
                           final_due=T0 + timedelta(days=7))  # fmt: skip
            s.add(inc)
            s.flush()
            s.add(IncidentEvent(incident_id=inc.id, at=routed, actor="system", kind=ev.ROUTED_EV, authority_id=a.id,
                                data={"due": {"first_reply": (routed + timedelta(hours=8)).isoformat()}}))  # fmt: skip
            s.add(IncidentEvent(incident_id=inc.id, at=T0, actor="system", kind=ev.REOPENED_EV, data={"reason": "снова"}))
        sch.job_deadlines()  # sweeps the events not notified yet into the outbox, however old
        with db.session() as s:
            assert s.scalar(select(func.count(OutboxMessage.id))) == 2
            s.execute(OutboxMessage.__table__.update().values(next_attempt_at=T0 + timedelta(minutes=10)))
        assert sch.job_deliver().sent == 0  # not due yet on the clock
        clock.advance(minutes=10)
        stats = sch.job_deliver()
        assert (stats.sent, stats.late) == (2, 1)
        assert inbox.messages == [["gkh@example.ru"], ["gkh@example.ru"]]
        subjects = sorted(m["Subject"] for m in inbox.contents)
        # the three-day-old routing says it is late and when it happened (region time); the reopening does not
        late = [m for m in inbox.contents if m["Subject"].startswith("[с опозданием]")]
        assert len(late) == 1, subjects
        assert "Отправлено с опозданием: событие произошло 28.11.2025 07:30 (UTC+07:00)" in late[0].get_content()
        sch.job_deadlines()
        assert sch.job_deliver().sent == 0  # nothing twice
        # the monthly job builds the report of the month before, by the region's calendar
        html, xlsx = sch.job_monthly_report()
        assert html.name == "report-2025-11.html" and xlsx.exists()
    finally:
        ctl.stop()


def test_previous_month_uses_the_region_time_zone():
    kem = timezone(timedelta(hours=7))
    assert sch.previous_month(datetime(2025, 12, 31, 17, 30, tzinfo=UTC), kem) == "2025-12"  # 1 Jan local
    assert sch.previous_month(datetime(2025, 12, 31, 16, 30, tzinfo=UTC), kem) == "2025-11"


def test_crawl_jobs_follow_the_sources(app, tmp_path):
    pytest.importorskip("pipeline.crawl")
    from storage.sources import get_or_create_source

    export = tmp_path / "export.jsonl"
    export.write_text(
        json.dumps({"id": "1", "source": "file:export", "date": "2025-11-20T10:00:00+07:00", "text": "нет воды в доме"}, ensure_ascii=False) + "\n",
        encoding="utf-8",
    )
    db = app.ready_db()
    with db.session() as s:
        src, _ = get_or_create_source(s, "file", "jsonl", str(export), url=str(export), interval_minutes=30)
        off, _ = get_or_create_source(s, "file", "jsonl", str(tmp_path / "other.jsonl"), interval_minutes=30)
        off.enabled = False
        src_id = src.id
    sched = sch.build_scheduler(app, FakeClock(T0))
    sched.start(paused=True)
    try:
        assert sch.job_sync_sources() == {"added": 1, "removed": 0, "changed": 0}
        job = sched.get_job(f"crawl:{src_id}")
        assert job.trigger.interval == timedelta(minutes=30) and job.args == (src_id,)
        with db.session() as s:
            s.get(type(src), src_id).interval_minutes = 5
        assert sch.job_sync_sources()["changed"] == 1
        reports = sch.job_crawl(src_id)
        assert reports[0].inserted == 1
        with db.session() as s:
            assert s.scalar(select(func.count(Post.id))) == 1
            s.get(type(src), src_id).enabled = False
        assert sch.job_crawl(src_id) is None
        assert sch.job_sync_sources()["removed"] == 1
        assert sched.get_job(f"crawl:{src_id}") is None
    finally:
        sched.shutdown(wait=True)


def test_cur_run_stops_cleanly_on_sigterm(app, cur_env, tmp_path, db_url):
    proc = subprocess.Popen(
        [sys.executable, "-m", "cli", "run", "--no-web", "--reports", str(tmp_path / "r")],
        env=cur_env, cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        line = proc.stdout.readline()
        assert line.startswith("Планировщик запущен"), (line, proc.stderr.read() if proc.poll() is not None else "")
        status = proc.stdout.readline()  # who holds the lease: this very process
        assert status.startswith("Активный планировщик:") and f"pid {proc.pid}," in status, status
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, err
    assert "Планировщик остановлен." in out
    assert "Traceback" not in err
    # the log says this process was the active scheduler and gave the lease back on the way out
    assert "Планировщик активен: задания выполняет этот процесс" in err and "Аренда планировщика освобождена" in err
    # the jobs stayed in the project database for the next start
    store = SQLAlchemyJobStore(engine=Database(db_url).engine)
    store.start(None, "default")
    assert {"process", "deadlines", "deliver", "monthly_report"} <= {j.id for j in store.get_all_jobs()}


def _one_post(db) -> int:
    from storage import PostRecord, upsert_posts

    with db.session() as s:
        upsert_posts(s, [PostRecord(platform="vk", source_key="vk:-1", external_id="1", published_at=T0 - timedelta(hours=1),
                                    text="Новокузнецк, ул. Кирова 12 — третий день нет отопления, в квартирах +12")])  # fmt: skip
        return s.scalar(select(Post.id))


def test_process_job_waits_for_a_trained_model(db_url, tmp_path):
    pytest.importorskip("pipeline.process")
    app = App(settings=Settings(database_url=db_url, models_dir=tmp_path / "no-models"))
    (tmp_path / "no-models").mkdir()
    try:
        post_id = _one_post(app.ready_db())
        sch.set_runtime(sch.Runtime(app, FakeClock(T0), senders={}))
        assert sch.job_process() is None  # logged, not raised: `cur run` keeps running
        with app.db.session() as s:
            assert s.get(Post, post_id).processed_at is None
    finally:
        app.db.dispose()


def test_process_job_processes_new_posts_at_the_clock_time(app):
    process = pytest.importorskip("pipeline.process")
    try:
        process.find_active_model(app)
    except process.ModelNotFound:
        pytest.skip("no trained classifier model in classifier_models/ yet")
    post_id = _one_post(app.ready_db())
    clock = FakeClock(T0)
    sch.set_runtime(sch.Runtime(app, clock, senders={}))
    report = sch.job_process()
    assert report.processed == 1
    with app.db.session() as s:
        assert s.get(Post, post_id).processed_at == T0
    clock.advance(minutes=2)
    assert sch.job_process().processed == 0  # nothing new; the classifier is reused, not reloaded


def test_cur_run_serves_the_web_application_with_the_scheduler(app, cur_env, tmp_path):
    import re
    import urllib.request

    proc = subprocess.Popen(
        [sys.executable, "-m", "cli", "run", "--port", "0", "--reports", str(tmp_path / "r")],
        env=cur_env, cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        line = proc.stdout.readline()
        m = re.search(r"(http://127\.0\.0\.1:\d+)/login", line)
        assert line.startswith("Планировщик запущен") and m, (line, proc.stderr.read() if proc.poll() is not None else "")
        with urllib.request.urlopen(m.group(1) + "/login", timeout=10) as resp:
            assert resp.status == 200 and "Вход" in resp.read().decode("utf-8")
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, err
    assert "Планировщик и веб-приложение остановлены." in out
