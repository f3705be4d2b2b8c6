"""`/healthz` and `cur status`: reachable database and current migrations; crawl lag, backlogs, scheduler, job runs."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone

from storage import coordination as co
from storage.models import OutboxMessage, Source
from tests.helpers import add_post
from tests.test_web_security import make_ctx
from web.app import create_app

NOW = datetime(2026, 12, 3, 10, 0, tzinfo=timezone.utc)


async def test_healthz_ok_without_login_and_without_secrets(db_url, aiohttp_client, monkeypatch):
    app = make_ctx(db_url)
    app.ready_db()
    client = await aiohttp_client(create_app(app))
    r = await client.get("/healthz")
    assert r.status == 200
    body = await r.json()
    assert body["status"] == "ok" and body["database"] == "ok" and body["migrations"] == "ok"
    assert body["revision"]["current"] == body["revision"]["head"]
    text = json.dumps(body)
    assert "sqlite" not in text and "postgresql" not in text and "127.0.0.1" not in text
    assert r.headers["Cache-Control"] == "no-store"
    app.db.dispose()


async def test_healthz_503_when_migrations_are_behind(db_url, aiohttp_client):
    app = make_ctx(db_url)
    app.ready_db()
    head = app.db.current_revision()
    app.db.downgrade("-1")
    try:
        client = await aiohttp_client(create_app(app))
        r = await client.get("/healthz")
        assert r.status == 503
        body = await r.json()
        assert body["status"] == "error" and body["migrations"] == "outdated"
        assert body["revision"]["head"] == head and body["revision"]["current"] not in (None, head)
    finally:
        app.db.upgrade()  # the PostgreSQL database is shared by the session's tests
        app.db.dispose()


async def test_healthz_503_when_the_database_is_away(tmp_path, aiohttp_client):
    app = make_ctx("postgresql://nobody@127.0.0.1:1/none")
    client = await aiohttp_client(create_app(app))
    r = await client.get("/healthz")
    assert r.status == 503
    body = await r.json()
    assert body == {"status": "error", "database": "unreachable", "migrations": "unknown"}


def _world(db_url: str):
    app = make_ctx(db_url)
    db = app.ready_db()
    with db.session() as s:
        fresh = Source(platform="vk", kind="wall", key="fresh", interval_minutes=15, created_at=NOW - timedelta(days=1), last_success_at=NOW - timedelta(minutes=5))
        late = Source(platform="vk", kind="wall", key="late", interval_minutes=15, created_at=NOW - timedelta(days=1), last_success_at=NOW - timedelta(hours=2))
        s.add_all([fresh, late])
    return app, db


def test_status_reports_lag_backlogs_and_scheduler(db_url, cur_env, tmp_path):
    from pipeline.health import job_run, status

    app, db = _world(db_url)
    with db.session() as s:
        add_post(s, "текст", NOW - timedelta(hours=1)).collected_at = NOW - timedelta(hours=1)
        s.add(OutboxMessage(channel="email", recipient="a@b.c", dedup_key="k1", next_attempt_at=NOW - timedelta(hours=1), created_at=NOW - timedelta(hours=1)))
        s.add(OutboxMessage(channel="email", recipient="a@b.c", dedup_key="k2", status="dead", next_attempt_at=NOW, created_at=NOW))
    st = status(app, NOW)
    assert not st.healthy
    text = "\n".join(st.problems)
    assert "late отстаёт" in text and "fresh" not in text
    assert "обработка отстаёт: 1 постов ждут" in text
    assert "отправка уведомлений отстаёт" in text
    assert "планировщик не запущен" in text
    assert any("не доставлено уведомлений: 1" in n for n in st.notes)
    assert st.figures["processing_backlog"] == 1 and st.figures["outbox_due"] == 1 and st.figures["sources_late"] == 1

    # the scheduler holds its lease; a job failed, then another ran well
    with db.session() as s:
        co.acquire_lease(s, "scheduler", "h:1:x", "h", 1, NOW - timedelta(seconds=10), timedelta(minutes=1))
    try:
        with job_run(db, "process", lambda: NOW):
            raise RuntimeError("сбой")
    except RuntimeError:
        pass
    with job_run(db, "deliver", lambda: NOW):
        pass
    st = status(app, NOW)
    lines = "\n".join(st.lines)
    assert "активен: хост h, pid 1" in lines
    assert "deliver: успешно" in lines and "process: ОШИБКА" in lines
    assert any("process завершился ошибкой: RuntimeError: сбой" in p for p in st.problems)
    app.db.dispose()


def test_cur_status_exit_codes_and_json(db_url, cur):
    from pipeline.health import job_run
    from tests.test_web_security import make_ctx as ctx

    app = ctx(db_url)
    db = app.ready_db()
    now = datetime.now(timezone.utc)
    r = cur("status")
    assert r.returncode == 1, r.stderr
    assert "Планировщик:" in r.stdout and "планировщик не запущен" in r.stdout
    assert "Ошибка: обнаружено проблем: 1" in r.stderr
    with db.session() as s:
        co.acquire_lease(s, "scheduler", "h:1:x", "h", 1, now, timedelta(minutes=5))
    with job_run(db, "process"):
        pass
    r = cur("status")
    assert r.returncode == 0, r.stdout + r.stderr
    assert "Итог: всё в порядке." in r.stdout and "все собранные посты обработаны" in r.stdout and "process: успешно" in r.stdout
    r = cur("status", "--json")
    assert r.returncode == 0
    data = json.loads(r.stdout)
    assert data["healthy"] is True and data["processing_backlog"] == 0 and data["scheduler_active"] is True
    db.dispose()


def test_scheduler_jobs_record_their_runs(db_url):
    from pipeline.scheduler import Runtime, job_deliver, set_runtime
    from storage import health as h
    from tests.helpers import FakeClock

    app = make_ctx(db_url)
    set_runtime(Runtime(app, FakeClock(NOW), senders={}))
    job_deliver()
    with app.ready_db().session() as s:
        runs = {r.name: r for r in h.job_runs(s)}
    assert runs["deliver"].ok is True and runs["deliver"].finished_at == NOW
    app.db.dispose()


def test_status_per_region_in_a_deployment_of_several(db_url):
    """Each served region's crawl lag, processing backlog and outbox backlog; posts without a region are the
    default region's unless their source is another's."""
    from config import load_settings
    from pipeline.context import App
    from pipeline.health import status
    from storage.models import Incident

    settings = load_settings(env={}).model_copy(update={"database_url": db_url, "secret_key": "test-secret-" + "k" * 20,
                                                        "regions": ["pskov"]})
    app = App(settings=settings)
    db = app.ready_db()
    with db.session() as s:
        kuz = Source(platform="vk", kind="wall", key="kuz", interval_minutes=15, created_at=NOW - timedelta(days=1),
                     last_success_at=NOW - timedelta(minutes=5))
        psk = Source(platform="vk", kind="wall", key="psk", interval_minutes=15, created_at=NOW - timedelta(days=1),
                     last_success_at=NOW - timedelta(hours=3), region="pskov")
        s.add_all([kuz, psk])
        s.flush()
        for _ in range(3):  # Pskov's posts wait since an hour: late; Kuzbass's one is fresh
            post = add_post(s, "текст", NOW - timedelta(hours=1), source="psk")
            post.collected_at, post.source_id = NOW - timedelta(hours=1), psk.id  # no region yet: its source's
        add_post(s, "текст", NOW, source="kuz").collected_at = NOW - timedelta(minutes=1)
        inc = Incident(region="pskov", title="Нет воды", state="new", created_at=NOW)
        s.add(inc)
        s.flush()
        s.add(OutboxMessage(channel="email", recipient="a@b.c", dedup_key="k1", incident_id=inc.id,
                            next_attempt_at=NOW - timedelta(minutes=1), created_at=NOW))
    st = status(app, NOW)
    regions = st.figures["regions"]
    assert regions["pskov"]["processing_backlog"] == 3 and regions["kuzbass"]["processing_backlog"] == 1
    assert regions["pskov"]["sources_late"] == 1 and regions["kuzbass"]["sources_late"] == 0
    assert regions["pskov"]["outbox_pending"] == 1 and regions["kuzbass"]["outbox_pending"] == 0
    lines = "\n".join(st.lines)
    assert "По регионам:" in lines
    assert "Псковская область (pskov, Europe/Moscow): источников 1, отстают 1, с ошибкой 0" in lines
    assert "ждут обработки 3 (самый старый собран 60 мин назад)" in lines
    assert any(p.startswith("обработка отстаёт в регионе Псковская область: 3 постов") for p in st.problems)
    assert not any("в регионе Кемеровская" in p for p in st.problems)
    app.db.dispose()
