"""Processing split into tasks (``pipeline.distributed``) and real `cur worker` processes on RabbitMQ.

* in-process: the analyse tasks of a burst run in a shuffled order, with group
  tasks between them, and the result equals one `cur process` pass — the
  frontier keeps every partition's posts in id order whatever the order of
  the analyses;
* real workers (RabbitMQ on 127.0.0.1:5672, PostgreSQL): two `cur worker`
  processes on the same burst, one of them killed with SIGKILL in the middle
  and replaced, end with the same database as one uninterrupted `cur process`.
"""

from __future__ import annotations

import json
import os
import random
import signal
import socket
import subprocess
import time
import uuid
from datetime import datetime, timezone
from pathlib import Path

import pytest
from conftest import CUR
from sqlalchemy import func, select, text
from test_process_batched import INCIDENT_WORD_NO, make_app, mixed_posts, models_dir  # noqa: F401  (fixture)
from test_process_batched import export as _export

from pipeline.distributed import analyse_range, dispatch, group_pending, groupable_sectors
from pipeline.importer import import_file
from pipeline.process import load_classifier, process_pending
from storage.models import Post, PostAnalysis

NOW = datetime(2026, 11, 18, 4, 0, tzinfo=timezone.utc)


def export(url: str) -> str:
    """``test_process_batched.export``, but only «инцидент №N» names an incident: sectors are grouped in parallel, so
    incident row ids differ from one process's and a «школа №12» of a post's text must stay as it is."""
    return _export(url, INCIDENT_WORD_NO)


BROKER = "amqp://guest:guest@127.0.0.1:5672/%2F"


def _rabbit() -> bool:
    try:
        with socket.create_connection(("127.0.0.1", 5672), timeout=2):
            return True
    except OSError:
        return False


def _two(db_url: str, models_dir, data, tmp_path):
    reference = f"sqlite:///{tmp_path / 'reference.db'}"
    apps = []
    for url in (reference, db_url):
        app = make_app(url, models_dir)
        import_file(app.ready_db(), data, app.region.region.tz)
        apps.append(app)
    return reference, apps[0], apps[1]


@pytest.fixture(scope="module")
def one_pass(models_dir, tmp_path_factory) -> tuple[Path, str]:
    """500 mixed posts and the export of one `process` pass over them on SQLite: the same for both backends."""
    tmp = tmp_path_factory.mktemp("one_pass")
    data = mixed_posts.write(500, tmp / "posts.jsonl", seed=3)
    url = f"sqlite:///{tmp / 'reference.db'}"
    ref = make_app(url, models_dir)
    import_file(ref.ready_db(), data, ref.region.region.tz)
    process_pending(ref, NOW)
    ref.db.dispose()
    return data, export(url)


@pytest.mark.slow
def test_analyses_in_any_order_group_like_one_pass(db_url, models_dir, one_pass):
    data, reference = one_pass
    app = make_app(db_url, models_dir)
    import_file(app.ready_db(), data, app.region.region.tz)

    ranges: list[tuple[int, int]] = []
    groups: list[str | None] = []
    sent = dispatch(app, lambda a, b: ranges.append((a, b)), groups.append, batch_size=37)
    assert sent == ranges and len(ranges) > 10 and groups == []  # nothing analysed yet: no group task
    random.Random(5).shuffle(ranges)
    clf = load_classifier(app)
    for k, (a, b) in enumerate(ranges):
        analyse_range(app, clf, a, b, NOW)
        if k % 3 == 0:
            for sector in groupable_sectors(app):  # grouping runs while later analyses are still to come
                group_pending(app, NOW, sector, batch_size=29)
    analyse_range(app, clf, *ranges[0], NOW)  # a redelivered task does nothing
    assert dispatch(app, lambda a, b: ranges.append((a, b)), groups.append) == []  # nothing left to analyse
    assert len(groups) > 3  # ... but sectors to group
    for sector in groups:
        group_pending(app, NOW, sector)
    with app.ready_db().session() as s:
        assert s.scalar(select(func.count(Post.id)).where(Post.processed_at.is_(None))) == 0
    assert export(db_url) == reference
    app.db.dispose()


def _worker(env: dict[str, str], tmp_path, n: int) -> subprocess.Popen:
    log = open(tmp_path / f"worker{n}.log", "w")
    return subprocess.Popen([CUR, "worker", "--queues", "process"], env=env, cwd=tmp_path, stdout=log, stderr=subprocess.STDOUT,
                            start_new_session=True)


def _wait_started(tmp_path, n: int, timeout: float = 300) -> None:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if "Обработчик запущен" in (tmp_path / f"worker{n}.log").read_text():
            return
        time.sleep(0.3)
    raise AssertionError((tmp_path / f"worker{n}.log").read_text())


def _waiting_on_locks(db) -> int:
    """Sessions of this database blocked on a row lock (each `cur worker --threads 1` has at most one)."""
    with db.session() as s:
        return s.scalar(text("SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'")) or 0


@pytest.mark.slow
@pytest.mark.postgres
@pytest.mark.skipif(not _rabbit(), reason="needs RabbitMQ on 127.0.0.1:5672")
def test_two_real_workers_one_killed_end_like_one_pass(pg_url, models_dir, tmp_path):
    """The kill lands inside a task, by construction: the test holds row locks on the second half of the posts, so
    both workers analyse the first half and then each blocks in the transaction of an analyse task of the second
    half (its classification done, its rows not yet written); worker 0 is killed there, the locks are released,
    and the broker must redeliver its task to the others."""
    from config import load_settings
    from pipeline.workers import connect, queue_depths

    n_posts = 300
    data = mixed_posts.write(n_posts, tmp_path / "posts.jsonl", seed=9)
    reference, ref, app = _two(pg_url, models_dir, data, tmp_path)
    process_pending(ref, NOW)

    ns = f"test-{uuid.uuid4().hex[:10]}"
    env = {**{k: v for k, v in os.environ.items() if not k.startswith("CUR_")}, "PYTHONIOENCODING": "utf-8", "CUR_DATABASE_URL": pg_url, "CUR_BROKER_URL": BROKER, "CUR_BROKER_NAMESPACE": ns}
    if models_dir:
        env["CUR_MODELS_DIR"] = models_dir
    settings = load_settings(env={"CUR_BROKER_URL": BROKER, "CUR_BROKER_NAMESPACE": ns, "CUR_DATABASE_URL": pg_url})
    workers = [_worker(env, tmp_path, 0), _worker(env, tmp_path, 1)]
    tasks = connect(settings)
    db = app.ready_db()
    with db.session() as s:
        ids = list(s.scalars(select(Post.id).order_by(Post.id)))
    held = db.engine.connect()
    lock = held.begin()
    try:
        held.execute(select(Post.id).where(Post.id >= ids[len(ids) // 2]).with_for_update())  # the second half
        for n in (0, 1):
            _wait_started(tmp_path, n)
        sent = dispatch(app, lambda a, b: tasks.send_analyse(a, b, NOW), lambda sector: tasks.send_group(NOW, sector), batch_size=16)
        assert len(sent) > 10

        def done() -> int:
            with db.session() as s:
                return s.scalar(select(func.count(Post.id)).where(Post.processed_at.is_not(None))) or 0

        end = time.monotonic() + 600
        while _waiting_on_locks(db) < 2:  # both workers stand inside a task of the locked half
            assert time.monotonic() < end and all(w.poll() is None for w in workers), (tmp_path / "worker0.log").read_text()[-3000:]
            time.sleep(0.1)
        killed_at = done()
        os.killpg(workers[0].pid, signal.SIGKILL)  # in the middle of its task: the broker redelivers what it held
        workers[0].wait(10)
        lock.rollback()
        workers.append(_worker(env, tmp_path, 2))
        _wait_started(tmp_path, 2)
        while time.monotonic() < end:
            with db.session() as s:
                pending = s.scalar(select(func.count(Post.id)).where(Post.processed_at.is_(None), Post.is_deleted.is_(False)))
            if pending == 0 and sum(queue_depths(settings).values()) == 0:
                break
            time.sleep(0.2)
        else:
            raise AssertionError("the workers did not finish: " + (tmp_path / "worker1.log").read_text()[-3000:])
    finally:
        if lock.is_active:
            lock.rollback()
        held.close()
        for w in workers:
            if w.poll() is None:
                os.killpg(w.pid, signal.SIGTERM)
        for w in workers:
            try:
                w.wait(60)
            except subprocess.TimeoutExpired:
                os.killpg(w.pid, signal.SIGKILL)
        for q in (f"{ns}.process", f"{ns}.crawl", f"{ns}.deliver"):
            for name in (q, f"{q}.DQ", f"{q}.XQ"):
                try:
                    tasks.broker.channel.queue_delete(name)
                except Exception:  # noqa: BLE001
                    pass
        tasks.close()
    with app.ready_db().session() as s:
        assert s.scalar(select(func.count(PostAnalysis.id))) == s.scalar(select(func.count(func.distinct(PostAnalysis.post_id))))
    a, b = json.loads(export(reference)), json.loads(export(pg_url))
    assert len(a["incidents"]) > 5  # the set really groups
    for key in ("processed", "analyses", "outbox"):
        assert a[key] == b[key], key
    assert a["incidents"] == b["incidents"]
    assert 0 < killed_at < n_posts // 2 + 1  # the first half at most: the kill came in the middle
    print(f"killed at {killed_at} of {n_posts} processed posts, {len(a['incidents'])} incidents")
    ref.db.dispose()
    app.db.dispose()


def test_region_lease_and_sector_leases_exclude_each_other(db_url):
    from pipeline.processing_lease import ProcessingBusy, ProcessingLease
    from tests.test_web_security import make_ctx

    db = make_ctx(db_url).ready_db()
    region = ProcessingLease(db, "kuzbass")
    housing = ProcessingLease(db, "kuzbass", part="sector:housing")
    roads = ProcessingLease(db, "kuzbass", part="sector:roads")
    housing.acquire()
    roads.acquire()  # sectors are independent
    with pytest.raises(ProcessingBusy):
        region.acquire()  # `cur process` waits for the workers' groupers
    housing.release()
    roads.release()
    region.acquire()
    with pytest.raises(ProcessingBusy):
        housing.acquire()  # and they for it
    region.release()
    housing.acquire()
    housing.release()
    db.dispose()


def test_cur_worker_needs_a_broker_and_known_queues(cur, cur_env, tmp_path):
    from conftest import run_cur

    r = cur("worker")
    assert r.returncode == 2 and "не задан адрес брокера задач: укажите CUR_BROKER_URL" in r.stderr
    r = run_cur(["worker", "--queues", "process,mail"], env={**cur_env, "CUR_BROKER_URL": BROKER}, cwd=tmp_path)
    assert r.returncode == 2 and "неизвестные очереди: mail; возможны: crawl, process, deliver" in r.stderr
    r = cur("status")
    assert "Traceback" not in r.stderr


def test_broker_settings_are_checked():
    from config import ConfigError, load_settings

    with pytest.raises(ConfigError) as e:
        load_settings(env={"CUR_BROKER_URL": "redis://127.0.0.1:6379"})
    assert "CUR_BROKER_URL" in str(e.value)
    with pytest.raises(ConfigError):
        load_settings(env={"CUR_BROKER_NAMESPACE": "пробел нельзя"})
    assert load_settings(env={"CUR_BROKER_URL": BROKER}).broker_namespace == "cur"


class _FakeTasks:
    """Stands for ``pipeline.workers.Tasks``: records what the scheduler sends."""

    def __init__(self) -> None:
        self.sent: list[tuple] = []

    def send_crawl(self, source_id):
        self.sent.append(("crawl", source_id))

    def send_analyse(self, first_id, last_id, now):
        self.sent.append(("analyse", first_id, last_id))

    def send_group(self, now, sector):
        self.sent.append(("group", sector))

    def send_deliver(self, now):
        self.sent.append(("deliver",))


def test_with_a_broker_the_scheduler_sends_tasks_and_the_tasks_do_the_work(db_url, tmp_path):
    """`cur run` with CUR_BROKER_URL sends crawls, processing and deliveries; the task bodies a worker runs do them."""
    from config import load_settings
    from pipeline import scheduler as sch
    from pipeline import workers
    from pipeline.context import App
    from storage import health as h
    from storage.models import OutboxMessage
    from storage.sources import get_or_create_source
    from tests.helpers import FakeClock

    export = tmp_path / "export.jsonl"
    export.write_text(json.dumps({"id": "1", "source": "file:export", "date": "2025-11-20T10:00:00+07:00", "text": "нет воды в доме"},
                                 ensure_ascii=False) + "\n", encoding="utf-8")  # fmt: skip
    app = App(settings=load_settings(env={"CUR_DATABASE_URL": db_url, "CUR_BROKER_URL": BROKER}))
    db = app.ready_db()
    with db.session() as s:
        src_id = get_or_create_source(s, "file", "jsonl", str(export), url=str(export), interval_minutes=30)[0].id
    fake = _FakeTasks()
    rt = sch.set_runtime(sch.Runtime(app, FakeClock(NOW), senders={}))
    rt.tasks = fake
    assert sch.job_crawl(src_id) is None and fake.sent == [("crawl", src_id)]
    with db.session() as s:
        assert s.scalar(select(func.count(Post.id))) == 0  # not crawled by the scheduler itself
    sch.job_deliver()
    assert fake.sent[-1] == ("deliver",)

    # a worker's task bodies (no broker needed to call them)
    workers._state = workers._WorkerState(app)
    workers._worker_tasks = fake  # type: ignore[assignment]
    workers.task_crawl(src_id)
    workers.task_crawl(src_id)  # again: the cursor says nothing is new
    with db.session() as s:
        assert s.scalar(select(func.count(Post.id))) == 1
    assert sch.job_process() == 1  # one analyse task for the new post, not sent again within RESEND_AFTER
    assert fake.sent[-1][0] == "analyse" and sch.job_process() == 0
    first, last = fake.sent[-1][1:]
    workers.task_analyse(first, last, NOW.isoformat())
    sectors = [m[1] for m in fake.sent if m[0] == "group"]
    for sector in sectors:
        workers.task_group(NOW.isoformat(), sector)
    with db.session() as s:
        assert s.scalar(select(func.count(Post.id)).where(Post.processed_at.is_(None))) == 0
        s.add(OutboxMessage(channel="email", recipient="a@b.c", dedup_key="k", next_attempt_at=NOW))
    delivered: list[str] = []

    class Sender:
        channel = "email"

        async def send(self, envelope):
            delivered.append(envelope.recipient)

    workers._state.senders = {"email": Sender()}
    workers.task_deliver(NOW.isoformat())
    with db.session() as s:
        runs = {r.name for r in h.job_runs(s)}
        assert s.scalar(select(OutboxMessage.status).where(OutboxMessage.dedup_key == "k")) == "sent"
    assert "a@b.c" in delivered
    assert {f"crawl:{src_id}", "process", "process:analyse", "deliver"} <= runs
    assert ("process:group" in runs) == bool(sectors)
    workers._state = None
    workers._worker_tasks = None
    db.dispose()
